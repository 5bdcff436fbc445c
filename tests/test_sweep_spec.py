"""Sweep files: take expansion and ids, applying a take, validation errors, picking the best take, the comparison page."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from songforge.album_file import load_album
from songforge.errors import ParamsError
from songforge.sweep import Take, expand_takes, load_sweep, take_id
from songforge.sweep_best import EITHER_WAY, MAXIMISE, METRICS, MINIMISE, BestRule, parse_best, pick_best

ROOT = Path(__file__).resolve().parents[1]
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"


@pytest.fixture
def album_file(tmp_path: Path) -> Path:
    songs = [{"title": "One", "lyrics": LYRICS, "seed": 1, "duration_s": 12, "engine": {"params": {"swing": 0.2}}},
             {"title": "Two", "lyrics": LYRICS, "seed": 2, "duration_s": 14, "bpm": 96}]
    path = tmp_path / "albums" / "album.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"title": "Test Album", "master": {"target_lufs": -16}, "songs": songs}))
    return path


def sweep_file(tmp_path: Path, **fields) -> Path:
    path = tmp_path / "sweeps" / "s.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"album": "../albums/album.yaml", **fields}, sort_keys=False))
    return path


def test_grid_is_every_combination_with_the_last_key_fastest_and_readable_ids():
    takes = expand_takes({"temperature": [0.8, 1.2], "seed": [1, 2]})
    assert [t.id for t in takes] == ["t01-temperature0.8-seed1", "t02-temperature0.8-seed2",
                                     "t03-temperature1.2-seed1", "t04-temperature1.2-seed2"]
    assert takes[2].overrides == {"temperature": 1.2, "seed": 1} and takes[2].label == "temperature=1.2, seed=1"
    assert expand_takes({"temperature": [0.8, 1.2], "seed": [1, 2]}) == takes  # stable


def test_explicit_takes_cross_the_grid_and_ids_stay_folder_safe():
    takes = expand_takes({"seed": [1, 2]}, [{"temperature": 0.7, "drums": False}, {"temperature": 1.3, "drums": True}])
    assert len(takes) == 4 and takes[1].overrides == {"temperature": 0.7, "drums": False, "seed": 2}
    assert takes[1].id == "t02-temperature0.7-drumsoff-seed2"
    assert take_id(7, {"reference": Path("refs/Bright Mix (final).wav"), "mix.reverb_send": 0.25}) == \
        "t07-referencebright-mix-final-reverb_send0.25"
    assert take_id(3, {"reference": None}) == "t03-referencenone"
    many = expand_takes({"seed": list(range(120))})
    assert many[0].id == "t001-seed0" and len({t.id for t in many}) == 120
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", t.id) for t in many)


def test_demo_sweep_file_loads_two_temperatures_by_two_seeds_on_one_short_song():
    plan = load_sweep(ROOT / "params" / "sweeps" / "demo-temperature.yaml")
    assert len(plan.takes) == 4 and plan.swept == ("temperature", "seed")
    assert [s.title for s in plan.album.songs] == ["Paper Planes"] and plan.album.songs[0].duration_s <= 20
    song = plan.album_for(plan.takes[-1]).songs[0]
    assert song.engine.params.temperature == 1.5 and song.seed == 4
    assert plan.best and parse_best(plan.best).direction == "max"


def test_a_take_sets_engine_params_seed_mix_and_master_and_keeps_the_rest(tmp_path, album_file):
    reference = tmp_path / "sweeps" / "ref.wav"
    reference.parent.mkdir()
    noise = np.random.default_rng(0).standard_normal((6 * 44100, 2))  # a full-band stereo reference passes load's check
    sf.write(reference, (0.1 * noise).astype(np.float32), 44100)
    plan = load_sweep(sweep_file(tmp_path, songs=["One"], grid={"engine.temperature": [0.6], "mix.reverb_send": [0.3]},
                                 references=["none", "ref.wav"], seeds=[9]))
    assert plan.swept == ("temperature", "mix.reverb_send", "seed", "reference")
    plain, referenced = (plan.album_for(take) for take in plan.takes)
    song = referenced.songs[0]
    assert (song.engine.params.swing, song.engine.params.temperature) == (0.2, 0.6)  # the song's own params stay
    assert song.seed == 9 and song.mix.reverb_send == 0.3 and song.duration_s == 12
    assert plain.master.reference is None and plain.master.target_lufs == -16
    assert referenced.master.reference.resolve() == reference.resolve()
    assert plan.takes[1].id == "t02-temperature0.6-reverb_send0.3-seed9-referenceref"
    base = load_album(album_file).songs[0]
    assert song.lyrics == base.lyrics and song.genre == base.genre and song.key == base.key


def test_override_sets_song_fields_for_every_take(tmp_path, album_file):
    plan = load_sweep(sweep_file(tmp_path, override={"duration_s": 10}, seeds=[1, 2]))
    assert [s.duration_s for s in plan.album_for(plan.takes[0]).songs] == [10, 10]


@pytest.mark.parametrize("fields, field, words", [
    ({"grid": {"temprature": [0.8]}}, "grid.temprature", "did you mean 'temperature'"),
    ({"grid": {"temperature": [0.8, 3.0]}}, "grid.temperature[1]", "less than or equal to 2"),
    ({"grid": {"top_p": [0.9]}}, "grid.top_p", "not a param of the sketch engine"),
    ({"takes": [{"temperature": 0.9, "humanise": 0.2}]}, "takes[0].humanise", "did you mean 'humanize'"),
    ({"grid": {"mix.reverb_sendd": [0.1]}}, "grid.mix.reverb_sendd", "did you mean 'mix.reverb_send'"),
    ({"seeds": [-1]}, "seeds[0]", "greater than or equal to 0"),
    ({"references": ["missing.wav"]}, "references[0]", "does not exist"),
    ({"grid": {"target_lufs": [-40]}}, "grid.target_lufs[0]", "greater than or equal to -30"),
    ({"songs": ["Tow"], "seeds": [1]}, "songs[0]", "did you mean 'Two'"),
    ({"seeds": [1], "grid": {"seed": [2]}}, "seeds", "swept twice"),
    ({"seeds": [1], "takes": [{"seed": 3}]}, "takes[0].seed", "also a grid axis"),
    ({"grid": {}}, "grid", "nothing to sweep"),
    ({"seeds": 3}, "seeds", "not a non-empty list"),
    ({"seeds": [1], "best": "max:nope"}, "best", "is not a metric"),
    ({"seeds": [1], "colour": "red"}, "colour", "not a sweep field"),
    ({"album": "../albums/nope.yaml", "seeds": [1]}, "album", "no such file"),
])
def test_bad_sweep_files_name_the_file_the_field_and_the_fix(tmp_path, album_file, fields, field, words):
    path = sweep_file(tmp_path, **fields)
    with pytest.raises(ParamsError) as caught:
        load_sweep(path)
    assert caught.value.field.startswith(field), caught.value
    assert words in str(caught.value) and str(path) in str(caught.value) and "Fix:" in str(caught.value)


def test_best_rules_have_directions_and_unknown_metrics_list_the_choices():
    assert parse_best("key_score") == BestRule("key_score", "max")
    assert parse_best("lufs_error") == BestRule("lufs_error", "min")
    assert parse_best("max:true_peak_dbtp") == BestRule("true_peak_dbtp", "max")
    assert str(parse_best("min:lufs")) == "min:lufs"
    with pytest.raises(ParamsError, match="better neither higher nor lower.*'max:lufs' or 'min:lufs'"):
        parse_best("lufs")
    with pytest.raises(ParamsError, match="not a metric.*key_score.*did you mean 'key_score'"):
        parse_best("key_scor")
    with pytest.raises(ParamsError, match="not a direction"):
        parse_best("top:key_score")


def test_every_measured_number_has_a_rule_and_no_metric_has_two():
    from songforge.measure.metrics import SongMetrics

    numbers = {f.name for f in dataclasses.fields(SongMetrics) if f.name not in ("key", "pitch")}
    assert numbers | {"lufs_error", "tempo_error_bpm"} == set(METRICS)
    assert len(METRICS) == len(set(MAXIMISE) | set(MINIMISE) | set(EITHER_WAY))


def test_pick_best_takes_the_max_or_min_per_song_skipping_unmeasured_and_first_wins_a_tie():
    rows = [{"take": "t1", "song": "A", "x": 1.0}, {"take": "t2", "song": "A", "x": 3.0},
            {"take": "t3", "song": "A", "x": 3.0}, {"take": "t1", "song": "B", "x": None},
            {"take": "t2", "song": "B", "x": -2}, {"take": "t1", "song": "C", "x": None}]
    high = pick_best(rows, BestRule("x", "max"))
    assert high["A"]["take"] == "t2" and high["B"]["take"] == "t2" and high["C"] is None
    assert pick_best(rows, BestRule("x", "min"))["A"]["take"] == "t1"


def test_comparison_writes_a_row_and_a_player_per_take_and_highlights_the_best(tmp_path):
    from songforge.report.compare import TakeSong, write_comparison

    entries = []
    for i, (temperature, seed) in enumerate([(0.5, 1), (0.5, 2), (1.5, 1), (1.5, 2)], start=1):
        audio = tmp_path / f"t{i}" / "01-a" / "master.mp3"
        audio.parent.mkdir(parents=True)
        audio.write_bytes(b"mp3")
        entries.append(TakeSong(f"t0{i}", f"temperature={temperature}, seed={seed}", "A",
                                {"temperature": temperature, "seed": seed},
                                {"key_score": [0.5, 1.0, 0.75, 1.0][i - 1], "key": "C major", "lufs": -14.0 - i},
                                audio=audio.relative_to(tmp_path).as_posix()))
    result = write_comparison("Sweep & <test>", entries, ["temperature", "seed"], tmp_path, BestRule("key_score", "max"))
    csv = result.path("csv").read_text().splitlines()
    assert csv[0].startswith("take,label,song,temperature,seed,key_score") and len(csv) == 5
    html = result.path("html").read_text()
    assert html.count("<audio") == 4 and "Sweep &amp; &lt;test&gt;" in html
    assert re.search(r'class="take best" data-take="t02"', html) and html.count('class="take best"') == 1
    assert 'src="t1/01-a/master.mp3"' in html
    assert {"plot-key_score", "plot-lufs"} <= set(result.files) and "plot-key" not in result.files
    assert result.path("plot-lufs").read_bytes()[:4] == b"\x89PNG"
    assert result.data["best"] == {"A": "t02"}
    import json
    assert json.loads(result.path("best").read_text())["songs"]["A"]["take"] == "t02"


def test_take_is_a_frozen_value():
    take = Take(id="t01", label="seed=1", overrides={"seed": 1})
    with pytest.raises(Exception):
        take.id = "t02"
