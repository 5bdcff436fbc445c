"""The separate step through the album flow (a real Prefect API, a real MLflow sqlite store), on a sketch song with
`separate: {source: tracks}` and the tiny Roformer: it runs on the GPU slot, is cached on rerun, the mix is made
of its stems, and the review page plays them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from separation_fixtures import LYRICS, TINY, no_network, tiny_models  # noqa: F401 (fixtures)
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.audio.mix import mix_stems

pytestmark = pytest.mark.slow


def test_separated_tracks_are_what_the_mix_hears_cached_and_played(tiny_models, no_network, prefect_api, tmp_path,
                                                                   monkeypatch):
    from flows.album import album_flow
    from flows.song import stages_of

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Separated", "defaults": {"separate": {"model": TINY, "source": "tracks"}},
                                    "songs": [{"title": "One", "lyrics": LYRICS, "duration_s": 10}]}))
    album = load_album(path)
    assert "separate" in stages_of(album.songs[0], album)  # the progress bar counts it
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    song = Path(result["folders"][0])
    outputs = json.loads((song / "manifest.json").read_text())["outputs"]
    assert outputs["separate"]["vocals"]["path"] == "separated/vocals.wav"
    assert outputs["separate"]["instrumental"]["path"] == "separated/instrumental.wav"

    vocals, rate = read_audio(song / "separated" / "vocals.wav")
    instrumental, _ = read_audio(song / "separated" / "instrumental.wav")
    engine_vocals, _ = read_audio(song / "stems" / "vocals.wav")
    assert vocals.shape == engine_vocals.shape and not np.allclose(vocals, engine_vocals, atol=1e-3)
    mix, _ = read_audio(song / "mix.wav")
    np.testing.assert_allclose(mix, mix_stems(vocals, instrumental, rate, album.songs[0].mix), atol=1e-5)

    page = Path(result["report"]).read_text()
    assert "separated vocals" in page and "separated instrumental" in page
    assert "separated/vocals.wav" in page and "separated/instrumental.wav" in page
    assert task_run_states(first, "separate-01-one") == ["Completed"]

    made = (song / "separated" / "vocals.wav").stat().st_mtime_ns
    again = album_flow(album, out, uri, return_state=True)
    assert task_run_states(again, "separate-01-one") == ["Cached"]
    assert (song / "separated" / "vocals.wav").stat().st_mtime_ns == made
