"""`engine: yue` through the album flow: a real Prefect API and MLflow store, tiny random-weight models.

Stage 1, stage 2 and decoding are separate cached tasks: a changed stage-2 setting reruns stage 2
and what follows, and reuses the stage-1 codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from songforge.album_file import load_album
from songforge.audio.io import read_audio

from test_yue_engine import LYRICS, models, tiny_llama  # noqa: F401  (models: the tiny models fixture)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def yue_album(tmp_path: Path, **params) -> Path:
    engine = {"name": "yue", "params": {"max_new_tokens": 150, "min_new_tokens": 0, **params}}
    spec = {"title": "Tiny YuE", "songs": [{"title": "Noise Song", "lyrics": LYRICS, "genre": ["pop"], "seed": 7,
                                           "bpm": 120, "key": "C major", "engine": engine}]}
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_yue_album_runs_every_step_and_reuses_stage1_when_stage2_changes(models, prefect_api, tmp_path):
    from flows.album import album_flow

    out, uri = tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}"
    cli = subprocess.run([sys.executable, "-m", "app.cli", "album", str(yue_album(tmp_path)), "--out", str(out)],
                         cwd=ROOT, env={**os.environ, "PREFECT_API_URL": prefect_api, "MLFLOW_TRACKING_URI": uri,
                                        "SONGFORGE_MODELS": str(models)},
                         capture_output=True, text=True, timeout=900)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "Noise Song" in cli.stdout and "report:" in cli.stdout
    folder = out / "tiny-yue" / "01-noise-song"
    stage1 = sorted((folder / "yue" / "stage1").glob("*.npy"))
    stage2 = sorted((folder / "yue" / "stage2").glob("*.npy"))
    assert [p.name for p in stage1] == [f"{folder.name}_itrack.npy", f"{folder.name}_vtrack.npy"]
    assert [np.load(p).shape[0] for p in stage2] == [8, 8]
    vocals, rate = read_audio(folder / "stems" / "vocals.wav")
    assert rate == 44_100 and vocals.shape[1] == 2 and len(vocals) == 882 * np.load(stage2[0]).shape[1]
    assert (folder / "master.wav").is_file() and (folder / "stems" / "engine_mix.wav").is_file()
    assert json.loads((folder / "metrics.json").read_text())["duration_s"] == pytest.approx(len(vocals) / rate)

    before = {p: p.stat().st_mtime_ns for p in stage1 + stage2}
    other_stage2 = tmp_path / "other-s2"
    tiny_llama(other_stage2, seed=11)  # a different stage-2 model: stage 2 and decode rerun, stage 1 does not
    album_flow(load_album(yue_album(tmp_path, stage2_model=str(other_stage2))), str(out), uri)
    assert all(before[p] == p.stat().st_mtime_ns for p in stage1), "stage 1 ran again"
    assert all(before[p] != p.stat().st_mtime_ns for p in stage2), "stage 2 did not run again"
