"""One album whose songs use the ace-step, musicgen and stable-audio-open engines (each a tiny random model the
test builds and loads through the engine's real loader; none is the real model), through the album flow with a
real Prefect API and a real MLflow sqlite store: every song is made, mastered and carries its engine's licence,
and a rerun takes every engine's step from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from ace_step_tiny import write_tiny_ace_step
from musicgen_tiny import write_musicgen
from stable_audio_tiny import write_tiny_stable_audio
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.audio.io import read_audio

pytestmark = pytest.mark.slow
LYRICS = "[verse]\nlittle light upon the hill\nshining on and shining still\n[chorus]\nhold on, hold on\n"


def test_an_album_of_three_engines_runs_end_to_end_and_is_cached_on_rerun(prefect_api, tmp_path, monkeypatch):
    from flows.album import album_flow

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    models = tmp_path / "tiny"
    engines = {
        "ace-step": {"model": str(write_tiny_ace_step(models / "ace")), "inference_steps": 2},
        "musicgen": {"model": str(write_musicgen(models / "musicgen"))},
        "stable-audio-open": {"model": str(write_tiny_stable_audio(models / "sao")), "inference_steps": 3},
    }
    songs = [{"title": f"Song {i}", "lyrics": LYRICS if name == "ace-step" else "[instrumental]\n",
              "duration_s": 10, "genre": ["ambient"], "instrument": ["piano"], "seed": i,
              "engine": {"name": name, "params": params}} for i, (name, params) in enumerate(engines.items())]
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Three Engines", "songs": songs}))
    album = load_album(path)
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")

    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    licences = {}
    for folder, name in zip(result["folders"], engines):
        take = json.loads((Path(folder) / "take.json").read_text())
        assert take["engine"].startswith(name), (name, take["engine"])
        licences[name] = json.dumps(take["licence"])
        master, _ = read_audio(Path(folder) / "master.wav")
        assert np.abs(master).max() > 0.01, name  # each engine's audio reached its master
    assert "MIT" in licences["ace-step"] and "CC-BY-NC-4.0" in licences["musicgen"]
    assert "Stability" in licences["stable-audio-open"]

    made = ("render-01-song-0", "musicgen-render-02-song-1", "generate-03-song-2")
    assert {step: task_run_states(first, step) for step in made} == {step: ["Completed"] for step in made}
    again = album_flow(album, out, uri, return_state=True)
    assert not again.result()["failed"]
    cached = (*made, "master-01-song-0", "master-02-song-1", "master-03-song-2")
    assert {step: task_run_states(again, step) for step in cached} == {step: ["Cached"] for step in cached}
