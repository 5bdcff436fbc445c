"""A song's plan: steps in phase order, each read wired to its last maker; plugins found by any process;
licences checked for commercial albums. (The plugin step and engine live in tests/plugins/.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import pytest

from songforge.album_file import album_from_dict
from songforge.errors import ParamsError
from songforge.params import AlbumSpec, SongSpec
from songforge.plan import PlanError, check_commercial, plan_song
from songforge.registry import SONG_STEPS, register_step, song_steps
from songforge.step import Step

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).resolve().parent / "plugins"
LYRICS = "[verse]\nLittle light upon the hill\n"


def album(**song) -> AlbumSpec:
    return album_from_dict({"title": "Plans", "songs": [{"title": "One", "lyrics": LYRICS, **song}]})


def sources(plan) -> dict[str, dict[str, str]]:
    return {planned.name: dict(planned.sources) for planned in plan.steps}


def test_a_songs_plan_is_its_song_steps_and_its_engines_in_phase_order():
    sketch = album()
    plan = plan_song(sketch.songs[0], sketch)
    assert plan.names == ("lyrics", "generate", "mix", "master", "measure", "flags", "plots")
    assert sources(plan)["mix"] == {"vocals": "generate", "instrumental": "generate"}
    assert sources(plan)["measure"] == {"master": "master", "vocals": "generate"}
    yue = album(engine={"name": "yue"})
    names = plan_song(yue.songs[0], yue).names
    assert names == ("lyrics", "yue-stage1", "yue-stage2", "yue-decode", "mix", "master", "measure", "flags",
                     "plots")
    assert sources(plan_song(yue.songs[0], yue))["yue-stage2"] == {"vtrack": "yue-stage1", "itrack": "yue-stage1"}
    view = plan.view()
    assert view.players[0] == ("master", "master", "preview")  # the last step's player is the song's main one
    assert view.metrics == ("measure", "flags") and view.take_files == (("generate", "take"),)
    assert view.licences == (("generate", "GNU General Public License v2 (GPL-2.0-only), commercial use: yes"),
                             ("measure", "MIT License (MIT), commercial use: yes"))  # flags and mix use no model


def test_a_step_that_remakes_a_role_feeds_every_later_reader_of_it(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_gain

    register_step(songforge_gain.STEP)  # importing registers it, once per process: the test may come second
    try:
        spec = album()
        plan = plan_song(spec.songs[0], spec)
        assert plan.names == ("lyrics", "generate", "mix", "gain", "master", "measure", "flags", "plots")
        assert sources(plan)["gain"] == {"mix": "mix"} and sources(plan)["master"] == {"mix": "gain"}
    finally:
        _unregister(songforge_gain.STEP)


def test_a_step_reading_what_no_earlier_step_makes_is_refused_before_anything_runs():
    orphan = register_step(Step(name="orphan", version="1", phase="mix", params=lambda song, album: album.master,
                                run=lambda *args: None, reads=("stems_of_nothing",)))
    try:
        spec = album()
        with pytest.raises(PlanError, match=r"steps\.orphan: reads stems_of_nothing, which no earlier step"):
            plan_song(spec.songs[0], spec)
    finally:
        _unregister(orphan)


def test_a_step_whose_params_are_none_is_not_in_the_plan():
    optional = register_step(Step(name="optional", version="1", phase="post", params=lambda song, album: None,
                                  run=lambda *args: None, reads=("vocals",), makes=("vocals",)))
    try:
        spec = album()
        assert "optional" not in plan_song(spec.songs[0], spec).names
    finally:
        _unregister(optional)


def _unregister(step: Step) -> None:
    from songforge import registry

    registry._steps.pop(step.name, None)


PLUGIN_ENTRY_POINT = """\
[songforge.plugins]
gain = songforge_gain
"""
LIST_STEPS = "from songforge.registry import song_steps; print(' '.join(step.name for step in song_steps()))"


@pytest.mark.parametrize("how", ["entry point", "SONGFORGE_PLUGINS"])
def test_a_new_process_finds_a_plugins_step(tmp_path, how):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PLUGINS), str(ROOT)])}
    if how == "entry point":  # what `pip install` of a plugin package leaves: a dist-info with entry_points.txt
        info = tmp_path / "songforge_test_plugins-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: songforge-test-plugins\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(PLUGIN_ENTRY_POINT)
    else:
        env["SONGFORGE_PLUGINS"] = "songforge_gain"
    listed = subprocess.run([sys.executable, "-c", LIST_STEPS], env=env, capture_output=True, text=True, check=True)
    built_in = [import_module(module).STEP.name for module in SONG_STEPS]  # a new built-in step changes no test
    assert listed.stdout.split() == [*built_in, "gain"]
    env.pop("SONGFORGE_PLUGINS", None)
    without = subprocess.run([sys.executable, "-c", LIST_STEPS], env={**env, "PYTHONPATH": str(ROOT)},
                             capture_output=True, text=True, check=True)
    assert "gain" not in without.stdout.split()


def test_a_commercial_album_refuses_a_non_commercial_or_unchecked_model_and_names_the_step(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_toy  # noqa: F401  (registers the toy engine: its render step is CC BY-NC 4.0)

    toy = album_from_dict({"title": "Sold", "commercial": True, "songs": [
        {"title": "One", "lyrics": LYRICS, "engine": {"name": "toy"}}]})
    with pytest.raises(ParamsError, match=r"commercial: step 'toy/render' uses Creative Commons Attribution-"
                                          r"NonCommercial 4\.0 \(CC-BY-NC-4\.0\), which forbids commercial use"):
        check_commercial(toy, [plan_song(song, toy) for song in toy.songs])
    check_commercial(toy.model_copy(update={"commercial": False}), [plan_song(song, toy) for song in toy.songs])

    yue = album_from_dict({"title": "Sold", "commercial": True, "songs": [
        {"title": "One", "lyrics": LYRICS, "engine": {"name": "yue"}}]})
    plans = [plan_song(song, yue) for song in yue.songs]
    with pytest.raises(ParamsError, match="step 'yue/yue-decode' uses xcodec_mini_infer, whose terms nobody has checked"):
        check_commercial(yue, plans)
    checked = yue.model_copy(update={"licences_checked": ["xcodec_mini_infer"]})
    check_commercial(checked, plans)  # the user read the terms and vouches for them
    sketch = album_from_dict({"title": "Sold", "commercial": True, "songs": [{"title": "One", "lyrics": LYRICS}]})
    check_commercial(sketch, [plan_song(song, sketch) for song in sketch.songs])  # GPL-2.0 SoundFont: allowed


def test_the_cli_refuses_a_commercial_album_before_anything_runs(tmp_path):
    import yaml

    album = tmp_path / "sold.yaml"
    album.write_text(yaml.safe_dump({"title": "Sold", "commercial": True, "songs": [
        {"title": "One", "lyrics": LYRICS, "engine": {"name": "toy"}}]}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(ROOT)]), "SONGFORGE_PLUGINS": "songforge_toy"}
    run = subprocess.run([sys.executable, "-m", "app.cli", "album", str(album), "--out", str(tmp_path / "out")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "commercial: step 'toy/render' uses" in run.stderr and "forbids commercial use" in run.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()


def test_tags_belong_to_the_engine_that_reads_them(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    import songforge_toy  # noqa: F401

    with pytest.raises(Exception, match="not in YuE's genre vocabulary"):
        SongSpec(title="T", lyrics=LYRICS, genre=["bossa-trap"])  # the sketch engine reads YuE's tags
    free = SongSpec(title="T", lyrics=LYRICS, genre=["bossa-trap"], engine={"name": "toy"})
    assert free.genre == ["bossa-trap"]  # the toy engine has no vocabulary: free text


def test_a_step_with_settings_is_in_the_plan_of_the_songs_that_set_them():
    from pydantic import Field

    from songforge.params import Frozen

    class Fade(Frozen):
        seconds: float = Field(2.0, gt=0, le=30, description="fade-out length")

    fade = register_step(Step(name="fade", version="1", phase="master", settings=Fade, run=lambda *args: None,
                              params=lambda song, album: song.steps.get("fade"), reads=("master",), makes=("master",)))
    try:
        spec = album_from_dict({"title": "Fades", "defaults": {"fade": {"seconds": 4}}, "songs": [
            {"title": "Long", "lyrics": LYRICS}, {"title": "Short", "lyrics": LYRICS, "fade": {"seconds": 1}},
            {"title": "None", "lyrics": LYRICS, "steps": {}}]})
        assert [song.steps.get("fade") for song in spec.songs] == [Fade(seconds=4), Fade(seconds=1), Fade(seconds=4)]
        plans = [plan_song(song, spec) for song in spec.songs]
        assert all("fade" in plan.names for plan in plans)
        assert plans[1].steps[plans[1].names.index("fade")].params == Fade(seconds=1)
        again = SongSpec.model_validate(spec.songs[1].model_dump())  # as a deployment's worker gets it
        assert again.steps == {"fade": Fade(seconds=1)}
        plain = album_from_dict({"title": "Plain", "songs": [{"title": "One", "lyrics": LYRICS}]})
        assert "fade" not in plan_song(plain.songs[0], plain).names  # a song that sets nothing: not in its plan
        with pytest.raises(ParamsError, match=r"songs\[0\]\.fade\.seconds: .*less than or equal to 30.*fade-out"):
            album_from_dict({"title": "Bad", "songs": [{"title": "One", "lyrics": LYRICS, "fade": {"seconds": 99}}]})
        with pytest.raises(ParamsError, match=r"songs\[0\]\.fadee"):
            album_from_dict({"title": "Typo", "songs": [{"title": "One", "lyrics": LYRICS, "fadee": {}}]})
    finally:
        _unregister(fade)


def test_a_role_a_step_may_read_is_wired_only_when_an_earlier_step_makes_it():
    listener = register_step(Step(name="listener", version="1", phase="post", params=lambda song, album: album.master,
                                  run=lambda *args: None, may_read=("engine_mix", "vocals"), makes=("notes",)))
    try:
        sketch = album()
        assert sources(plan_song(sketch.songs[0], sketch))["listener"] == {"vocals": "generate"}  # no engine mix
        yue = album(engine={"name": "yue"})
        assert sources(plan_song(yue.songs[0], yue))["listener"] == {"engine_mix": "yue-decode", "vocals": "yue-decode"}
    finally:
        _unregister(listener)
