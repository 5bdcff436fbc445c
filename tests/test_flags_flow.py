"""The flags step through the album flow (a real Prefect API, a real MLflow sqlite store) on a sketch song: in the
plan without being asked for, thresholds from the album's defaults, `failed` 0 in metrics.csv, the MLflow run and
the manifest, flags.json kept as an artifact."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from songforge.album_file import load_album
from songforge.flags.flag import FLAG_NAMES

pytestmark = pytest.mark.slow
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"


def test_a_good_sketch_song_is_not_flagged_and_its_flags_are_tracked(prefect_api, tmp_path):
    from mlflow import MlflowClient

    from flows.album import album_flow
    from flows.song import stages_of

    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Flagged?", "defaults": {"flags": {"voice": {"tolerance_s": 2.0}}},
                                    "songs": [{"title": "One", "lyrics": LYRICS, "duration_s": 12}]}))
    album = load_album(path)
    assert "flags" in stages_of(album.songs[0], album)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = album_flow(album, str(tmp_path / "out"), uri)
    song = Path(result["folders"][0])

    document = json.loads((song / "flags.json").read_text())
    assert document["failed"] == 0 and [flag["name"] for flag in document["flags"]] == list(FLAG_NAMES)
    ends = next(flag for flag in document["flags"] if flag["name"] == "ends_early")
    assert ends["evidence"]["tolerance_s"] == 2.0  # the album's defaults reached the step
    row = next(csv.DictReader((song.parent / "metrics.csv").open()))
    assert row["failed"] == "0" and all(row[f"flag_{name}"] == "0" for name in FLAG_NAMES)
    assert json.loads((song / "manifest.json").read_text())["outputs"]["flags"]["flags"]["path"] == "flags.json"

    client = MlflowClient(uri)
    parent = client.get_run(result["mlflow_run_id"])
    [child] = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert child.data.metrics["failed"] == 0.0 and child.data.metrics["flag_loop"] == 0.0
    assert "flags.json" in {artifact.path for artifact in client.list_artifacts(child.info.run_id)}
    assert "failure flag" not in Path(result["report"]).read_text()
