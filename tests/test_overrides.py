"""Experiment overrides (params.yaml `engine:`): they win over the album file, nulls change nothing, mistakes name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from songforge.album_file import album_from_dict
from songforge.errors import ParamsError
from songforge.overrides import apply_overrides, load_overrides

ROOT = Path(__file__).resolve().parents[1]
LYRICS = "[verse]\nLittle light upon the hill\n[chorus]\nHold on\n"


def album(**song_engine_params):
    songs = [{"title": "One", "lyrics": LYRICS, "engine": {"params": song_engine_params}},
             {"title": "Two", "lyrics": LYRICS}]
    return album_from_dict({"title": "A", "defaults": {"engine": {"name": "sketch", "params": {"humanize": 0.2}}},
                            "songs": songs})


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_projects_params_yaml_overrides_nothing_by_default():
    assert load_overrides(ROOT / "params.yaml") == {}


def test_override_wins_over_song_and_album_defaults(tmp_path):
    overrides = load_overrides(write(tmp_path, {"engine": {"humanize": 0.9, "swing": None}, "albums": ["x"]}))
    assert overrides == {"humanize": 0.9}  # null = no override; other sections are not read
    base = album(humanize=0.4, swing=0.3)
    result = apply_overrides(base, overrides)
    assert [s.engine.params.humanize for s in base.songs] == [0.4, 0.2]
    assert [s.engine.params.humanize for s in result.songs] == [0.9, 0.9]
    assert result.songs[0].engine.params.swing == 0.3  # untouched keys keep the album's value
    assert result.songs[0].engine.params.humanize == 0.9


def test_unknown_engine_param_names_the_field_and_choices(tmp_path):
    with pytest.raises(ParamsError) as error:
        apply_overrides(album(), {"top_p": 0.9}, source="params.yaml")
    assert error.value.field == "engine.top_p" and error.value.source == "params.yaml"
    assert "sketch" in str(error.value) and "humanize" in error.value.fix


def test_out_of_range_value_names_the_field(tmp_path):
    with pytest.raises(ParamsError) as error:
        apply_overrides(album(), {"humanize": 3}, source="params.yaml")
    assert error.value.field == "engine.humanize" and "less than or equal to 1" in error.value.problem


@pytest.mark.parametrize("content, field", [("engine: [1, 2]\n", "engine"), ("- a\n", "(file)"), ("engine: {a: [\n", "(file)")])
def test_malformed_overrides_file(tmp_path, content, field):
    path = tmp_path / "params.yaml"
    path.write_text(content)
    with pytest.raises(ParamsError) as error:
        load_overrides(path)
    assert error.value.field == field


def test_cli_rejects_a_bad_override_before_running_anything(tmp_path):
    from app.cli import app

    album_file = tmp_path / "album.yaml"
    album_file.write_text(yaml.safe_dump({"title": "A", "songs": [{"title": "One", "lyrics": LYRICS}]}))
    overrides = write(tmp_path, {"engine": {"guidance_scale": 1.5}})
    result = CliRunner().invoke(app, ["album", str(album_file), "--out", str(tmp_path / "out"),
                                      "--overrides", str(overrides)])
    assert result.exit_code == 2
    assert "engine.guidance_scale" in result.output and not (tmp_path / "out").exists()


def test_an_override_of_one_nested_knob_keeps_the_rest_of_its_block(tmp_path):
    """params.yaml `engine: {planner: {cfg_scale: 3}}` changes that knob only: the song's `enabled: true` (and its
    other planner settings) stay, as an album's defaults merge into its songs."""
    overrides = load_overrides(write(tmp_path, {"engine": {"planner": {"cfg_scale": 3.0}}}))
    songs = [{"title": "One", "lyrics": LYRICS, "engine": {"name": "ace-step", "params": {
        "planner": {"enabled": True, "temperature": 0.5}}}}]
    base = album_from_dict({"title": "A", "songs": songs})
    planner = apply_overrides(base, overrides).songs[0].engine.params.planner
    assert (planner.enabled, planner.temperature, planner.cfg_scale) == (True, 0.5, 3.0)
    # A disabled planner's settings (left out of dumps) are carried too: turning it on keeps them.
    off = album_from_dict({"title": "A", "songs": [{**songs[0], "engine": {"name": "ace-step", "params": {
        "planner": {"enabled": False, "top_k": 7}}}}]})
    turned_on = apply_overrides(off, {"planner": {"enabled": True}}).songs[0].engine.params.planner
    assert turned_on.enabled and turned_on.top_k == 7
