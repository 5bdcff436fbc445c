"""The studio chain of a song through the album flow (a real Prefect API, a real MLflow sqlite store): the sketch
engine, `separate` (the tiny Roformer, on the engine's tracks), `refine_vocals` (a tiny RVC voice) and the mix,
with the tiny models of the other tests in one models folder. Each step reads what the one before it made, the
review page plays every stage's vocal, and a rerun takes every step from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from rvc_tiny import REAL_40K, tiny, write_contentvec, write_index, write_voice
from separation_fixtures import LYRICS, TINY, no_network, tiny_models  # noqa: F401 (fixtures)
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.audio.mix import mix_stems
from songforge.plan import plan_song

pytestmark = pytest.mark.slow


@pytest.fixture
def voice(tiny_models) -> Path:
    """ContentVec and a voice with its index, beside the tiny Roformer."""
    write_contentvec(tiny_models / "contentvec")
    (tiny_models / "voices").mkdir()
    write_voice(tiny_models / "voices" / "tiny.pth", tiny(REAL_40K))
    write_index(tiny_models / "voices" / "tiny.index")
    return tiny_models


def test_separate_then_refine_then_mix_cached_and_every_stage_played(voice, no_network, prefect_api, tmp_path,
                                                                     monkeypatch):
    from flows.album import album_flow

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Studio", "songs": [{
        "title": "One", "lyrics": LYRICS, "duration_s": 10,
        "separate": {"model": TINY, "source": "tracks"},
        "refine_vocals": {"model": "tiny.pth", "index": "tiny.index", "f0": "crepe-tiny", "rms_mix_rate": 1.0}}]}))
    album = load_album(path)
    plan = plan_song(album.songs[0], album)
    assert plan.names[:5] == ("lyrics", "generate", "separate", "refine_vocals", "mix")
    sources = {planned.name: dict(planned.sources) for planned in plan.steps}
    assert sources["refine_vocals"] == {"vocals": "separate"}
    assert sources["mix"]["vocals"] == "refine_vocals" and sources["mix"]["instrumental"] == "separate"

    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    song = Path(result["folders"][0])
    engine_vocals, rate = read_audio(song / "stems" / "vocals.wav")
    separated, _ = read_audio(song / "separated" / "vocals.wav")
    refined, _ = read_audio(song / "refined" / "vocals.wav")
    instrumental, _ = read_audio(song / "separated" / "instrumental.wav")
    assert engine_vocals.shape == separated.shape == refined.shape
    assert not np.allclose(separated, engine_vocals, atol=1e-3) and not np.allclose(refined, separated, atol=1e-3)
    mix, _ = read_audio(song / "mix.wav")
    np.testing.assert_allclose(mix, mix_stems(refined, instrumental, rate, album.songs[0].mix), atol=1e-5)

    outputs = json.loads((song / "manifest.json").read_text())["outputs"]
    assert outputs["refine_vocals"]["vocals"]["path"] == "refined/vocals.wav"
    page = Path(result["report"]).read_text()
    for heard in ("stems/vocals.wav", "separated/vocals.wav", "refined/vocals.wav"):
        assert heard in page, heard  # each stage's vocal has its own player

    steps = ("generate-01-one", "separate-01-one", "refine_vocals-01-one", "mix-01-one", "master-01-one")
    assert all(task_run_states(first, name) == ["Completed"] for name in steps)
    made = {p: p.stat().st_mtime_ns for p in (song / "separated" / "vocals.wav", song / "refined" / "vocals.wav")}
    again = album_flow(album, out, uri, return_state=True)
    assert {name: task_run_states(again, name) for name in steps} == {name: ["Cached"] for name in steps}
    assert {p: p.stat().st_mtime_ns for p in made} == made
