"""An ace-step song through the album flow (a real Prefect API, a real MLflow sqlite store) on the tiny random
AceStepPipeline, its mix separated by the tiny Roformer: the render runs, `separate` makes the stems from the
engine's mix, the mix hears them, and a rerun takes render and separate from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from ace_step_tiny import write_tiny_ace_step
from separation_fixtures import LYRICS, TINY, no_network, tiny_models  # noqa: F401 (fixtures)
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.audio.io import read_audio

pytestmark = pytest.mark.slow


def test_an_ace_step_song_is_rendered_separated_mixed_and_cached(tiny_models, no_network, prefect_api, tmp_path,
                                                                 monkeypatch):
    from flows.album import album_flow

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    model = write_tiny_ace_step(tiny_models / "tiny-ace")
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Rendered", "songs": [{
        "title": "One", "lyrics": LYRICS, "duration_s": 10, "genre": ["dreamy synth-pop"],
        "engine": {"name": "ace-step", "params": {"model": str(model), "inference_steps": 2}},
        "separate": {"model": TINY}}]}))
    album = load_album(path)
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    song = Path(result["folders"][0])
    outputs = json.loads((song / "manifest.json").read_text())["outputs"]
    assert outputs["separate"]["vocals"]["path"] == "separated/vocals.wav"
    mix, rate = read_audio(song / "stems" / "engine_mix.wav")
    assert rate == 48000 and mix.shape == (10 * rate, 2) and np.abs(mix).max() > 0.5
    separated, _ = read_audio(song / "separated" / "vocals.wav")
    assert separated.shape == mix.shape and np.abs(separated).max() > 0  # made from the mix, not the silent take
    take = json.loads((song / "take.json").read_text())
    assert take["licence"] == "MIT License (MIT)" and take["engine"].startswith("ace-step-v1:")
    assert task_run_states(first, "render-01-one") == ["Completed"]

    made = (song / "stems" / "engine_mix.wav").stat().st_mtime_ns
    again = album_flow(album, out, uri, return_state=True)
    assert task_run_states(again, "render-01-one") == ["Cached"]
    assert task_run_states(again, "separate-01-one") == ["Cached"]
    assert (song / "stems" / "engine_mix.wav").stat().st_mtime_ns == made
