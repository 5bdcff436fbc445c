"""Takes chosen by quality, without the flows: take seeds, the rule engine (songforge.select) choosing, flagged takes
never chosen, the reason in words, bad rules refused when the album loads (naming the field, the fix and the
metrics there are), the kept take linked into the song's folder, and the sweep's --best on the same engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from songforge.album_file import load_album
from songforge.artifacts import file_sha256, output
from songforge.errors import ParamsError
from songforge.params import SongSpec
from songforge.select import SelectRule, choose, parse_rule
from songforge.sweep_best import parse_best, pick_best
from songforge.takes import keep_take, take_folder, take_seed, take_song

LYRICS = "[verse]\nLittle light upon the hill\n"


def test_take_seeds_derive_from_the_song_seed_and_the_index_and_take_0_keeps_the_song_seed():
    assert take_seed(42, 0) == 42
    seeds = [take_seed(42, i) for i in range(1, 6)]
    assert seeds == [take_seed(42, i) for i in range(1, 6)]  # reproducible
    assert len(set(seeds) | {42}) == 6 and all(0 <= s < 2 ** 31 for s in seeds)
    assert take_seed(43, 1) != take_seed(42, 1)
    import hashlib  # the documented derivation, spelled out
    assert take_seed(42, 3) == int.from_bytes(hashlib.sha256(b"songforge-take:42:3").digest()[:4], "big") & 0x7FFFFFFF


def test_a_song_without_takes_dumps_and_keys_as_before_and_a_take_song_is_a_plain_song():
    from tasks.cache import canonical

    plain = SongSpec(title="A", lyrics=LYRICS, seed=3)
    assert {"takes", "select", "retakes"}.isdisjoint(plain.model_dump())
    assert {"takes", "select", "retakes"}.isdisjoint(canonical(plain))  # cache keys of every step unchanged
    song = SongSpec(title="A", lyrics=LYRICS, seed=3, takes=3, select=[{"min": "lufs"}], retakes=1)
    assert SongSpec.model_validate(song.model_dump(mode="json")) == song  # a deployment's copy keeps them
    assert take_song(song, 0) == plain and take_song(song, 2).seed == take_seed(3, 2)
    assert canonical(take_song(song, 0)) == canonical(plain)


def test_the_rule_picks_in_order_ties_go_to_the_next_criterion_and_flagged_takes_are_never_chosen():
    rule = parse_rule([{"min": "per"}, {"max": "audiobox_pq"}])
    assert str(rule) == "min:per,max:audiobox_pq" and parse_rule("min:per, max:audiobox_pq") == rule
    takes = [{"per": 0.31, "audiobox_pq": 7.0}, {"per": 0.12, "audiobox_pq": 6.0},
             {"per": 0.05, "failed": 1, "flag_silence": 1}, {"per": 0.12, "audiobox_pq": 7.5}]
    choice = choose(rule, takes)
    assert choice.index == 3 and choice.flagged == (2,)
    assert choice.reason == ("take 4: lowest per 0.12 (take 2: 0.12, take 1: 0.31), then highest audiobox_pq 7.5 "
                             "(take 2: 6); take 3 flagged: silence")
    assert choose(rule, [{"per": None, "audiobox_pq": 5.0}, {"per": 0.4}]).index == 1  # a missing value ranks last
    assert choose(rule, takes[2:3]).index is None and "every take is flagged" in choose(rule, takes[2:3]).reason
    assert choose(parse_rule("max:x"), [{"x": 1}, {"x": 1}]).index == 0  # the first wins a full tie
    assert choose(rule, [{"per": 0.1, "failed": 0}]).index == 0  # no flag raised


@pytest.mark.parametrize("rule, words", [
    ([{"top": "per"}], "'top' is not a direction"),
    ([], "is not a non-empty list"),
    (["lufs"], "better neither higher nor lower"),
    ([{"min": "per", "max": "wer"}], "is not a criterion"),
    (["nonsense"], "has no known direction"),
])
def test_bad_rules_are_refused_with_the_field_and_the_fix(rule, words):
    with pytest.raises(ParamsError) as caught:
        parse_rule(rule)
    assert caught.value.field == "select" and words in caught.value.problem
    assert "select: [min: per, max: audiobox_pq]" in caught.value.fix


def write(tmp_path: Path, songs: list[dict], defaults: dict | None = None) -> Path:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "T", "defaults": {"lyrics": LYRICS, **(defaults or {})}, "songs": songs}))
    return path


def test_an_album_with_bad_take_rules_is_refused_at_load_naming_each_song_field_and_the_metrics_there_are(tmp_path):
    path = write(tmp_path, [{"title": "a"}, {"title": "b", "select": [{"top": "x"}]},
                            {"title": "c", "select": None}, {"title": "d", "select": [{"min": "per"}]}],
                 defaults={"takes": 3, "select": [{"max": "key_scor"}]})
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    text = str(caught.value)
    assert "songs[0].select: 'key_scor' is not a metric that a step of 'a' makes" in text
    assert "did you mean 'key_score'?" in text and "bandwidth_hz, clipped_samples" in text
    assert "songs[1].select: 'top' is not a direction" in text
    assert "songs[2].select: is missing" in text and "add e.g. 'select: [max: key_score]'" in text
    assert "songs[3].select: 'per' is not a metric" in text  # no step of this song makes it (no intelligibility)
    assert str(path) in text


def test_defaults_give_every_song_takes_and_a_rule(tmp_path):
    album = load_album(write(tmp_path, [{"title": "a"}, {"title": "b", "takes": 1}],
                             defaults={"takes": 2, "select": ["min:lufs", {"max": "key_score"}], "retakes": 1}))
    assert [s.takes for s in album.songs] == [2, 1] and album.songs[0].select == parse_rule("min:lufs,max:key_score")
    assert album.songs[1].retakes == 1


def test_keep_take_links_the_kept_takes_files_into_the_song_folder_and_records_every_take(tmp_path):
    song = tmp_path / "01-a"
    takes = []
    for index, (lufs, failed) in enumerate([(-9.0, 0), (-14.0, 1), (-12.0, 0)]):
        folder = take_folder(song, index)
        (folder / "stems").mkdir(parents=True)
        (folder / "master.wav").write_bytes(b"master %d" % index)
        (folder / "stems" / "vocals.wav").write_bytes(b"vocals %d" % index)
        takes.append({"master": output("master", {}, master=folder / "master.wav"),
                      "generate": output("generate", {}, vocals=folder / "stems" / "vocals.wav"),
                      "measure": output("measure", {"lufs": lufs}), "flags": output("flags", {"failed": failed})})
    kept = keep_take(SelectRule.model_validate([{"min": "lufs"}]), [1, 2, 3], takes, ["measure", "flags"], song)
    assert kept["takes"].data["kept"] == 2  # take 2 is lower, but flagged
    assert (song / "master.wav").read_bytes() == b"master 2" and kept["master"].path("master") == song / "master.wav"
    assert kept["generate"].path("vocals") == song / "stems" / "vocals.wav" and kept["master"].is_intact()
    record = json.loads((song / "takes.json").read_text())
    assert [t["seed"] for t in record["takes"]] == [1, 2, 3] and record["takes"][1]["folder"] == "takes/02"
    assert record["reason"] == "take 3: lowest lufs -12 (take 1: -9); take 2 flagged: failed"
    assert file_sha256(song / "master.wav") == file_sha256(take_folder(song, 2) / "master.wav")

    none = keep_take(SelectRule.model_validate(["min:lufs"]), [2], takes[1:2], ["measure", "flags"], song, [1])
    assert none["takes"].data["kept"] is None and set(none) == {"takes"}
    assert none["takes"].path("takes") == song / "takes" / "none-kept-of-1.json"
    assert json.loads((song / "takes.json").read_text())["kept"] == 2  # the kept choice is left as it was


def test_a_take_whose_step_failed_is_never_kept_and_the_reason_says_why(tmp_path):
    song = tmp_path / "01-a"
    takes = []
    for index in range(2):
        folder = take_folder(song, index)
        folder.mkdir(parents=True)
        (folder / "master.wav").write_bytes(b"master %d" % index)
        takes.append({"master": output("master", {}, master=folder / "master.wav"),
                      "measure": output("measure", {"lufs": -20.0 + index})})
    takes[0]["plots"] = RuntimeError("out of memory")  # as the flow hands a failed step to the choice
    takes[1]["plots"] = output("plots", {})
    kept = keep_take(SelectRule.model_validate(["min:lufs"]), [1, 2], takes, ["measure"], song)
    record = kept["takes"].data
    assert record["kept"] == 1 and (song / "master.wav").read_bytes() == b"master 1"  # the lower lufs failed
    assert record["reason"] == "take 2: lowest lufs -19; take 1 failed: plots: RuntimeError: out of memory"
    assert record["takes"][0]["error"] == "plots: RuntimeError: out of memory" and record["takes"][1]["error"] is None
    takes[1]["plots"] = None  # a step that never ran (its upstream failed)
    none = keep_take(SelectRule.model_validate(["min:lufs"]), [1, 2], takes, ["measure"], song)
    assert none["takes"].data["kept"] is None and "take 2 failed: plots: did not run" in none["takes"].data["reason"]


def test_the_sweeps_best_uses_the_same_engine_with_several_criteria_and_flags():
    rule = parse_best("min:lufs,max:key_score")
    rows = [{"take": "t1", "song": "A", "lufs": -14.0, "key_score": 0.5},
            {"take": "t2", "song": "A", "lufs": -14.0, "key_score": 1.0},
            {"take": "t3", "song": "A", "lufs": -20.0, "key_score": 1.0, "failed": 2}]
    assert pick_best(rows, rule)["A"]["take"] == "t2"
    with pytest.raises(ParamsError, match="'per' is not a metric that the swept songs' steps make"):
        parse_best("min:per", available=["lufs", "key_score"])
    assert parse_best("min:per") == parse_rule(["min:per"])  # a metric songforge knows, before any plan


def test_a_sweep_file_whose_best_names_a_metric_no_swept_step_makes_is_refused(tmp_path):
    from songforge.sweep import load_sweep

    album = write(tmp_path, [{"title": "a", "duration_s": 10}])
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"album": album.name, "seeds": [1, 2], "best": "min:per,max:key_score"}))
    with pytest.raises(ParamsError) as caught:
        load_sweep(sweep)
    assert caught.value.field == "best" and "'per' is not a metric that the swept songs' steps make" in str(caught.value)
    sweep.write_text(yaml.safe_dump({"album": album.name, "seeds": [1, 2], "best": "min:lufs_error,max:key_score"}))
    assert parse_best(load_sweep(sweep).best) == parse_rule(["min:lufs_error", "max:key_score"])


def test_a_sweep_refuses_songs_that_ask_for_takes_of_their_own_and_says_how(tmp_path):
    from songforge.sweep import load_sweep

    album = write(tmp_path, [{"title": "a", "duration_s": 10, "takes": 2, "select": [{"max": "key_score"}]},
                             {"title": "b", "duration_s": 10}])
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"album": album.name, "seeds": [1, 2]}))
    with pytest.raises(ParamsError) as caught:
        load_sweep(sweep)
    assert caught.value.field == "album" and "'a' ask for takes" in str(caught.value) and "'b'" not in str(caught.value)
    assert "seeds: [1, 2, 3]" in str(caught.value)
    sweep.write_text(yaml.safe_dump({"album": album.name, "seeds": [1, 2], "override": {"takes": 1, "retakes": 0}}))
    assert [song.takes for song in load_sweep(sweep).album.songs] == [1, 1]  # the fix it names works


def test_the_sweeps_best_json_names_every_criterion_even_one_the_winner_lacks(tmp_path):
    from songforge.report.compare import TakeSong, write_comparison

    rule = parse_rule(["min:per", "max:key_score"])  # per: only where a song's plan measures intelligibility
    entries = [TakeSong("t01", "seed=1", "a", {"seed": 1}, {"key_score": 0.4}, "t01/a.mp3"),
               TakeSong("t02", "seed=2", "a", {"seed": 2}, {"key_score": 0.9}, "t02/a.mp3")]
    best = json.loads(write_comparison("sweep", entries, ["seed"], tmp_path, rule).path("best").read_text())
    assert best["songs"]["a"]["take"] == "t02"
    assert best["songs"]["a"]["values"] == {"per": None, "key_score": 0.9}
