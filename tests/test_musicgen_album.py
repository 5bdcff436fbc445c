"""A musicgen song through the album flow (a real Prefect API, a real MLflow sqlite store): the tiny MusicGen-Melody
model following the sketch guide melody, mixed and mastered as an instrumental, its licence in take.json, and
every step taken from the cache on a rerun."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from musicgen_tiny import RATE, write_melody
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.plan import plan_song

pytestmark = pytest.mark.slow
LYRICS = "[verse]\nla la la la\nsing a little song\n[outro]\n"


def test_a_musicgen_melody_song_runs_through_the_album_flow_and_is_cached_on_rerun(prefect_api, tmp_path,
                                                                                  monkeypatch):
    from flows.album import album_flow

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    model = write_melody(tmp_path / "models" / "tiny-melody")
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Beds", "songs": [{
        "title": "Bed", "lyrics": LYRICS, "duration_s": 10, "genre": ["ambient"], "instrument": ["piano"],
        "engine": {"name": "musicgen", "params": {"model": str(model), "melody": "sketch"}}}]}))
    album = load_album(path)
    plan = plan_song(album.songs[0], album)
    assert plan.names[:3] == ("lyrics", "musicgen-guide", "musicgen-render")
    assert dict(next(p for p in plan.steps if p.name == "musicgen-render").sources) == {
        "melody_guide": "musicgen-guide"}

    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    song = Path(result["folders"][0])
    instrumental, rate = read_audio(song / "stems" / "instrumental.wav")
    vocals, _ = read_audio(song / "stems" / "vocals.wav")
    assert rate == RATE and instrumental.shape == (10 * RATE, 2) and not vocals.any()
    guide, _ = read_audio(song / "musicgen" / "guide.wav")
    assert np.abs(guide).max() > 0.01
    facts = json.loads((song / "take.json").read_text())
    assert facts["licence"].endswith("(CC-BY-NC-4.0)") and facts["licence_commercial"] == "no"
    assert facts["melody"] == "sketch" and facts["prompt"].startswith("ambient, piano")
    master, _ = read_audio(song / "master.wav")
    assert np.abs(master).max() > 0.01  # the instrumental made it to the master
    page = Path(result["report"]).read_text()  # the engine's licence on the song's card
    assert ("<b>musicgen-render</b>: Creative Commons Attribution-NonCommercial 4.0 (CC-BY-NC-4.0), "
            "commercial use: no") in page

    steps = ("musicgen-guide-01-bed", "musicgen-render-01-bed", "mix-01-bed", "master-01-bed")
    assert all(task_run_states(first, name) == ["Completed"] for name in steps)
    made = (song / "stems" / "instrumental.wav").stat().st_mtime_ns
    again = album_flow(album, out, uri, return_state=True)
    assert {name: task_run_states(again, name) for name in steps} == {name: ["Cached"] for name in steps}
    assert (song / "stems" / "instrumental.wav").stat().st_mtime_ns == made
