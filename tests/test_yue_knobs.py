"""One definition per YuE knob: the album loader, the steps' slices, the sampler and the `songforge yue` options
all read the same type, range, default and help (songforge/engine/yue/params.py, app/options.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from songforge.album_file import load_album
from songforge.engine.yue import stage1 as S1
from songforge.engine.yue.params import DecodeParams, SamplingKnobs, Stage1Params, Stage2Params, YuEParams
from songforge.errors import ParamsError

from test_yue_engine import LYRICS, models  # noqa: F401  (models: the tiny models fixture)

# Each slice's field -> the YuEParams field users write for it (the names may differ, the definition may not).
SAME_AS = {Stage1Params: {name: name for name in SamplingKnobs.model_fields} | {"model": "stage1_model"},
           Stage2Params: {"model": "stage2_model", "compat": "compat", "batch_size": "stage2_batch_size",
                          "dtype": "dtype"},
           DecodeParams: {"codec_model": "codec_model", "low_band_hz": "low_band_hz", "rescale": "rescale"}}


def definition(model, name: str) -> tuple:
    """What a field accepts and says: its type, range, default and help."""
    info = model.model_fields[name]
    return info.annotation, tuple(info.metadata), info.default, info.description


def album_file(folder: Path, **params) -> Path:
    path = folder / f"album-{len(list(folder.glob('album-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump({"title": "Knobs", "songs": [
        {"title": "One", "lyrics": LYRICS, "genre": ["pop"], "seed": 3, "engine": {"name": "yue", "params": params}}]}))
    return path


@pytest.mark.parametrize("model", list(SAME_AS), ids=lambda model: model.__name__)
def test_each_slice_field_is_the_user_facing_fields_definition(model):
    for name, user_name in SAME_AS[model].items():
        assert definition(model, name) == definition(YuEParams, user_name), name
        assert model.model_fields[name].description, f"{model.__name__}.{name} has no help text"
    for name in SamplingKnobs.model_fields:
        assert definition(SamplingKnobs, name) == definition(YuEParams, name), name


@pytest.mark.parametrize("field, value", [("top_p", 0.0), ("temperature", 0.0), ("temperature", 5.5),
                                          ("guidance_scale_first", 0.5), ("guidance_scale_later", 11),
                                          ("max_new_tokens", 0), ("min_new_tokens", -1), ("top_k", -1),
                                          ("repetition_penalty", 0)])
def test_out_of_range_knobs_are_refused_where_params_load_naming_the_field(tmp_path, field, value):
    """The album loader refuses them (one ParamsError line naming the field); so does every slice: the sampler
    itself checks no range, it only ever gets values that passed here."""
    with pytest.raises(ParamsError, match=rf"songs\[0\]\.engine\.params\.{field}: Input should be") as error:
        load_album(album_file(tmp_path, **{field: value}))
    assert "Fix: give " + field in str(error.value)
    for model, valid in ((SamplingKnobs, {}), (Stage1Params, YuEParams().stage1().model_dump())):
        with pytest.raises(ValidationError, match=field) as refused:
            model.model_validate({**valid, field: value})
        assert refused.value.error_count() == 1


@pytest.mark.parametrize("field, value", [("stage2_batch_size", 0), ("low_band_hz", 25000), ("compat", "bogus"),
                                          ("dtype", "float8")])
def test_out_of_range_stage2_and_decode_settings_are_refused_by_album_and_slice(tmp_path, field, value):
    with pytest.raises(ParamsError, match=rf"engine\.params\.{field}: Input should"):
        load_album(album_file(tmp_path, **{field: value}))
    model, name = next((model, name) for model, names in SAME_AS.items() if model is not Stage1Params
                       for name, user_name in names.items() if user_name == field)
    with pytest.raises(ValidationError, match=name) as refused:
        model(**{name: value})
    assert refused.value.error_count() == 1


def test_the_sampler_gets_exactly_the_knob_values_a_song_sets(models, tmp_path, monkeypatch):  # noqa: F811
    """From the song file to each segment's sampler: the values set, first-segment CFG then the later one."""
    from songforge.engine.yue.steps import run_stage1, stage1_take

    set_ = dict(max_new_tokens=12, min_new_tokens=3, temperature=0.7, top_p=0.8, top_k=7, repetition_penalty=1.3,
                guidance_scale_first=2.0, guidance_scale_later=1.4)
    song = load_album(album_file(tmp_path, **set_)).songs[0]
    real, seen = S1.generate_takes, []

    def spy(model, prompts, s, *args, **kwargs):
        seen.append(s)
        return real(model, prompts, s, *args, **kwargs)

    monkeypatch.setattr(S1, "generate_takes", spy)  # the real sampler runs: a spy, not a stand-in
    run_stage1(stage1_take(song), {}, tmp_path / "01-one")
    assert len(seen) == 2  # the lyrics' two sections
    for s, scale in zip(seen, (2.0, 1.4)):
        assert (s.max_new_tokens, s.min_new_tokens, s.temperature, s.top_p, s.top_k, s.repetition_penalty,
                s.guidance_scale) == (12, 3, 0.7, 0.8, 7, 1.3, scale)


# --- the `songforge yue` options ----------------------------------------------------------------------------------

def cli(*args: str, env: dict | None = None):
    from typer.testing import CliRunner

    from app.cli import app

    return CliRunner().invoke(app, ["yue", *args], env={"COLUMNS": "300", **(env or {})})  # wide: no wrapped help


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error: ")]


def outside(model, name: str) -> list:
    """Values just outside a field's range, and its bounds that are inside (from the definition's gt/ge/lt/le)."""
    bad, good, kind = [], [], model.model_fields[name].annotation  # as the command line parses them: 0 -> 0.0
    for rule in model.model_fields[name].metadata:
        for key, step, inside in (("gt", 0, False), ("ge", -1, True), ("lt", 0, False), ("le", 1, True)):
            bound = getattr(rule, key, None)
            if bound is not None:
                bad.append(kind(bound + step if inside else bound))
                good += [kind(bound)] if inside else []
    return bad, good


@pytest.mark.parametrize("name", list(SamplingKnobs.model_fields))
def test_each_knob_has_one_range_in_the_album_the_slice_and_the_stage1_option(tmp_path, name):
    """Out of range: refused alike by the album loader, Stage1Params and `yue stage1 --<knob>` (the same problem
    text); at its inclusive bounds: accepted by all three (the command then stops at the missing model)."""
    song_file = album_file(tmp_path)
    bad, good = outside(SamplingKnobs, name)
    bad += {"temperature": [5.5, 0.0]}.get(name, [])
    assert bad, f"{name} has no range"
    for value in bad:
        with pytest.raises(ParamsError) as in_file:
            load_album(album_file(tmp_path, **{name: value}))
        with pytest.raises(ValidationError):
            Stage1Params.model_validate({**YuEParams().stage1().model_dump(), name: value})
        result = cli("stage1", str(song_file), f"--{name.replace('_', '-')}", str(value))
        option = f"--{name.replace('_', '-')}"
        assert result.exit_code == 2 and error_lines(result) == [
            f"error: {option}: {in_file.value.problem}. Fix: give {option} a value it accepts "
            f"({SamplingKnobs.model_fields[name].description})"]
    for value in good:
        assert getattr(load_album(album_file(tmp_path, **{name: value})).songs[0].engine.params, name) == value
        result = cli("stage1", str(song_file), f"--{name.replace('_', '-')}", str(value), "--out", str(tmp_path),
                     env={"SONGFORGE_MODELS": str(tmp_path / "no-models")})
        assert result.exit_code == 2 and "tokenizer.model is missing" in result.output, result.output


def test_stage2_and_decode_options_are_the_params_definitions(tmp_path):
    """`--help` shows each option's help, default and choices from its field; a bad value is refused before any
    file is read, with the album loader's problem text (choices by typer, naming them)."""
    expected = {"stage2": (Stage2Params, ("model", "compat", "batch_size", "dtype")),
                "decode": (DecodeParams, ("codec_model", "low_band_hz", "rescale"))}
    for command, (model, fields) in expected.items():
        shown = cli(command, "--help").output.splitlines()
        for name in fields:
            info = model.model_fields[name]
            line = next(line for line in shown if re.match(rf"│ +--{name.replace('_', '-')}[ ,]", line))
            assert info.description in line, line
            assert info.default is None or isinstance(info.default, bool) or f"[default: {info.default}]" in line
    compat_line = next(line for line in cli("stage2", "--help").output.splitlines() if "│ --compat " in line)
    assert "<fixed|official>" in compat_line
    assert "<auto|bfloat16|float16|float32>" in cli("stage2", "--help").output

    codes = [str(tmp_path / "missing_vtrack.npy"), str(tmp_path / "missing_itrack.npy")]
    bogus = cli("stage2", *codes, "--compat", "bogus")
    assert bogus.exit_code == 2 and "'bogus' is not one of 'fixed', 'official'" in bogus.output
    for command, option, field, value in (("stage2", "--batch-size", "stage2_batch_size", 0),
                                          ("stage2", "--batch-size", "stage2_batch_size", 513),
                                          ("decode", "--low-band-hz", "low_band_hz", 20001.0)):
        with pytest.raises(ParamsError) as in_file:
            load_album(album_file(tmp_path, **{field: value}))
        result = cli(command, *codes, option, str(value))
        assert result.exit_code == 2 and error_lines(result)[0].startswith(f"error: {option}: {in_file.value.problem}.")
        assert "missing_vtrack" not in result.output  # refused before the codes were looked for


def test_stage1_options_override_the_songs_knobs_on_their_way_to_the_sampler(models, tmp_path, monkeypatch):  # noqa: F811
    set_ = dict(max_new_tokens=12, min_new_tokens=3, temperature=0.9, top_k=7, guidance_scale_first=2.0)
    real, seen = S1.generate_takes, []
    monkeypatch.setattr(S1, "generate_takes", lambda model, prompts, s, *a, **k: seen.append(s) or
                        real(model, prompts, s, *a, **k))  # a spy: the real sampler runs
    result = cli("stage1", str(album_file(tmp_path, **set_)), "--temperature", "0.7", "--guidance-scale-later", "1.6",
                 "--out", str(tmp_path / "s1"))
    assert result.exit_code == 0, result.output
    assert [(s.max_new_tokens, s.min_new_tokens, s.temperature, s.top_k, s.guidance_scale) for s in seen] == \
        [(12, 3, 0.7, 7, 2.0), (12, 3, 0.7, 7, 1.6)]
