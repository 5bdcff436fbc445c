"""The sweep flow end to end on the sketch engine: a real Prefect API, a real MLflow sqlite store, real audio."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from test_plan_flows import task_run_states

from songforge.sweep import load_sweep

pytestmark = pytest.mark.slow
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"


def tiny_sweep(tmp_path: Path, **fields) -> Path:
    """One 10-second song and a sweep file over it."""
    song = {"title": "Little Light", "lyrics": LYRICS, "bpm": 120, "key": "C major", "seed": 1, "duration_s": 10}
    (tmp_path / "song.yaml").write_text(yaml.safe_dump(song))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny", "album": "song.yaml", **fields}))
    return path


def test_two_by_two_sweep_tracks_four_takes_under_one_parent_compares_and_picks_the_best(prefect_api, tmp_path):
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.sweep import sweep_flow

    plan = load_sweep(tiny_sweep(tmp_path, grid={"temperature": [0.5, 1.5]}, seeds=[1, 2]))
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "out"
    result = sweep_flow(plan, str(out), uri, best="bandwidth_hz")

    client = MlflowClient(uri)
    parent = client.get_run(result["mlflow_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["songforge.sweep"] == "tiny"
    assert parent.data.tags["songforge.swept"] == "temperature,seed"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(c.data.tags["songforge.take"] for c in children) == [t.id for t in plan.takes]
    assert {(c.data.params["take.temperature"], c.data.params["take.seed"]) for c in children} == \
        {("0.5", "1"), ("0.5", "2"), ("1.5", "1"), ("1.5", "2")}
    assert all("lufs" in c.data.metrics and c.info.status == "FINISHED" for c in children)
    logged = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"comparison.csv", "comparison.html", "best.json", "plots"} <= logged

    folder = Path(result["folder"])
    rows = list(csv.DictReader((folder / "comparison.csv").open()))
    assert [(r["take"], float(r["temperature"]), int(r["seed"])) for r in rows] == \
        [(t.id, t.overrides["temperature"], t.overrides["seed"]) for t in plan.takes]
    html = (folder / "comparison.html").read_text()
    players = re.findall(r'<audio[^>]* src="([^"]+)"', html)
    assert len(players) == 4 and all((folder / p).is_file() for p in players)
    assert (folder / "plots" / "bandwidth_hz.png").is_file()

    winner = max(rows, key=lambda r: float(r["bandwidth_hz"]))  # max() keeps the first of equals, as the sweep does
    best = json.loads((folder / "best.json").read_text())
    assert best["rule"] == "max:bandwidth_hz" and best["songs"]["Little Light"]["take"] == winner["take"]
    assert result["best"]["Little Light"]["take"] == winner["take"]
    assert f'class="take best" data-take="{winner["take"]}"' in html

    key = ArtifactFilterKey(any_=[f"sweep-{plan.album.slug}-tiny"])
    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(artifact_filter=ArtifactFilter(key=key))
    assert artifacts and artifacts[0].type == "table"
    table = json.loads(artifacts[0].data) if isinstance(artifacts[0].data, str) else artifacts[0].data
    assert len(table) == 4 and {"take", "temperature", "seed", "bandwidth_hz"} <= set(table[0])

    rerun = sweep_flow(plan, str(out), uri, best="bandwidth_hz", return_state=True)
    assert rerun.result()["mlflow_run_id"] == result["mlflow_run_id"]  # every stage and run a cache hit
    for step in ("generate", "mix", "master", "measure"):
        states = task_run_states(rerun, f"{step}-%")
        assert states and set(states) == {"Cached"}, (step, states)


def test_a_reference_sweep_generates_and_mixes_once_and_masters_each_take(prefect_api, tmp_path):
    from flows.sweep import sweep_flow

    rate = 44100
    t = np.arange(8 * rate) / rate
    tone = np.tanh(3 * sum(a * np.sin(2 * np.pi * f * t) for f, a in [(110, 1.0), (440, 0.5), (1760, 0.3)]))
    sf.write(tmp_path / "loud.wav", (0.9 * tone / np.abs(tone).max()).astype(np.float32), rate)
    plan = load_sweep(tiny_sweep(tmp_path, references=["none", "loud.wav"], best="min:lufs"))
    result = sweep_flow(plan, str(tmp_path / "out"), f"sqlite:///{tmp_path / 'mlflow.db'}")

    plain, referenced = (Path(result["folder"]) / take.id / "01-little-light" for take in plan.takes)
    assert (plain / "stems" / "vocals.wav").is_file() and (plain / "mix.wav").is_file()
    assert not (referenced / "stems").exists() and not (referenced / "mix.wav").exists()  # reused take 1's
    assert (referenced / "master.wav").read_bytes() != (plain / "master.wav").read_bytes()
    rows = {row["take"]: row for row in result["rows"]}
    assert rows[plan.takes[0].id]["reference"] == "none" and rows[plan.takes[1].id]["reference"] == "loud.wav"
    assert rows[plan.takes[0].id]["lufs_error"] is not None and rows[plan.takes[1].id]["lufs_error"] is None
    assert result["best_rule"] == "min:lufs"
