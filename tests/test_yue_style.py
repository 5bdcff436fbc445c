"""A style prompt from any song: the reference is separated (the tiny Roformer), cut to its most energetic voiced
30 s, and handed to YuE's stage 1 as the dual-track ICL prompt. Tiny random-weight models (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from separation_fixtures import TINY, no_network, sketch_mix, tiny_models  # noqa: F401  (fixtures)
from songforge.params import AlbumSpec, SongSpec
from songforge.plan import plan_song
from test_yue_engine import LYRICS, TINY as TINY_YUE, models  # noqa: F401  (models: the tiny YuE fixture)


def styled_song(reference: Path, **params) -> SongSpec:
    return SongSpec(title="Styled", lyrics=LYRICS, seed=3, engine={"name": "yue", "params": {
        **TINY_YUE, "style_reference": str(reference), "style_separator": TINY, **params}})


def test_a_style_reference_is_a_prepare_step_and_makes_stage1_use_the_icl_checkpoint(tmp_path):
    song = styled_song(tmp_path / "reference.wav")
    album = AlbumSpec(title="A", songs=[song])
    plan = plan_song(song, album)
    assert plan.names[:3] == ("lyrics", "yue-style", "yue-stage1")
    stage1 = plan.steps[2]
    assert dict(stage1.sources) == {"reference_vocals": "yue-style", "reference_instrumental": "yue-style"}
    assert song.engine.params.stage1_model == "yue-en-icl"  # a styled song sings from an audio prompt
    assert stage1.params.styled and stage1.params.settings.codec_model == "xcodec"
    plain = SongSpec(title="Plain", lyrics=LYRICS, engine={"name": "yue", "params": TINY_YUE})
    assert "yue-style" not in plan_song(plain, AlbumSpec(title="B", songs=[plain])).names


def test_the_prompt_is_the_codecs_encoding_of_the_chosen_window_of_the_separated_stems(
        models, tiny_models, no_network, tmp_path, monkeypatch):  # noqa: F811
    from songforge.audio.io import read_audio
    from songforge.audio.windows import energetic_vocal_window
    from songforge.engine.yue.codec import encode, load_codec
    from songforge.engine.yue.engine import reference_ids
    from songforge.engine.yue.prompt import reference_dual
    from songforge.engine.yue.steps import run_style, style_call, styled_settings
    from songforge.separation.separator import loaded, pick, separate

    for folder in (models / "xcodec",):  # the tiny YuE models and the tiny separator share SONGFORGE_MODELS
        (tiny_models / folder.name).symlink_to(folder)
    reference, audio, rate = sketch_mix(tmp_path, duration_s=40)
    song = styled_song(reference)
    made = run_style(style_call(song), {}, tmp_path / "01-styled")
    window = json.loads(made.path("reference_window").read_text())
    assert window["chosen"] == "the most energetic 30 s with vocals" and window["end_s"] - window["start_s"] == 30

    with loaded(TINY) as model:  # the same separation, done directly
        stems = pick(separate(model, audio, rate), ("vocals", "instrumental"), TINY)
    assert (window["start_s"], window["end_s"]) == energetic_vocal_window(audio, stems["vocals"], rate)
    cut = slice(int(window["start_s"] * rate), int(window["end_s"] * rate))
    codec = load_codec(tiny_models / "xcodec")
    expected = reference_dual(encode(codec, stems["vocals"][cut].mean(axis=1), rate, n_codebooks=1),
                              encode(codec, stems["instrumental"][cut].mean(axis=1), rate, n_codebooks=1),
                              0.0, 30.0, compat="fixed")
    settings = styled_settings(plan_song(song, AlbumSpec(title="A", songs=[song])).steps[2].params.settings,
                               {role: made for role in ("reference_vocals", "reference_instrumental")})
    assert reference_ids(settings) == expected
    written, written_rate = read_audio(made.path("reference_vocals"))
    assert written_rate == rate and np.array_equal(written, stems["vocals"][cut])


def test_a_window_given_is_the_window_used(tiny_models, no_network, tmp_path):  # noqa: F811
    from songforge.engine.yue.steps import run_style, style_call

    reference, _, rate = sketch_mix(tmp_path, duration_s=25)
    made = run_style(style_call(styled_song(reference, style_reference_start_s=5, style_reference_end_s=15)), {},
                     tmp_path / "01-styled")
    window = json.loads(made.path("reference_window").read_text())
    assert (window["start_s"], window["end_s"], window["chosen"]) == (5, 15, "given")
    assert made.data["end_s"] == 15


def test_a_style_reference_beside_an_audio_prompt_is_refused(tmp_path):
    from songforge.album_file import album_from_dict
    from songforge.errors import ParamsError

    params = {"style_reference": "reference.wav", "prompt_audio": "prompt.wav"}
    with pytest.raises(ParamsError, match=r"songs\[0\]\.engine\.params\.style_reference: is set beside an audio"):
        album_from_dict({"title": "A", "songs": [{"title": "S", "lyrics": LYRICS,
                                                  "engine": {"name": "yue", "params": params}}]})


def test_a_missing_separator_is_named_before_anything_runs(tmp_path, monkeypatch):
    from songforge.preflight import missing_models

    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))
    song = styled_song(tmp_path / "reference.wav", style_separator="bs-roformer-viperx-1297")
    missing = missing_models([song], [plan_song(song, AlbumSpec(title="A", songs=[song]))])
    assert "bs-roformer-viperx-1297" in [m.name for m in missing]
    assert next(m for m in missing if m.name == "bs-roformer-viperx-1297").pull == "bs-roformer-viperx-1297"


@pytest.mark.slow
def test_a_styled_yue_song_runs_through_the_album_flow(models, tiny_models, no_network, prefect_api,  # noqa: F811
                                                        tmp_path):
    from flows.album import album_flow

    for name in ("yue-en-cot", "yue-s2", "xcodec"):  # the tiny YuE models beside the tiny separator
        (tiny_models / name).symlink_to(models / name)
    reference, _, _ = sketch_mix(tmp_path, duration_s=40)
    song = styled_song(reference, stage1_model="yue-en-cot")  # the tiny model stands in for the ICL checkpoint
    album = AlbumSpec(title="Styled Album", songs=[song])
    result = album_flow(album, str(tmp_path / "out"), f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not result["failed"], result["failed"]
    folder = Path(result["folders"][0])
    window = json.loads((folder / "yue" / "reference" / "window.json").read_text())
    assert window["end_s"] - window["start_s"] == 30
    assert list((folder / "yue" / "stage1").glob("*_vtrack.npy")) and (folder / "master.wav").is_file()
    assert "style reference: vocals" in Path(result["report"]).read_text()
