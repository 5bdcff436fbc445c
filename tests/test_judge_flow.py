"""The clap step through the album flow (a real Prefect API, a real MLflow sqlite store) on a sketch song with a tiny
random CLAP (never the real checkpoint), named by the album's defaults: clap_score in metrics.csv, the MLflow run
and the report, clap.json (model, text, licence) kept as an artifact, and the score is the master's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from judge_models import LYRICS, TINY_CLAP, write_tiny_clap

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.judge.clap import clap_score, load_clap

pytestmark = pytest.mark.slow


def test_the_clap_score_is_tracked_like_every_metric(prefect_api, tmp_path):
    from mlflow import MlflowClient

    from flows.album import album_flow

    model = write_tiny_clap(tmp_path / TINY_CLAP)
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Judged", "defaults": {"clap": {"model": str(model)}},
                                    "songs": [{"title": "One", "lyrics": LYRICS, "duration_s": 12}]}))
    album = load_album(path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = album_flow(album, str(tmp_path / "out"), uri)
    song = Path(result["folders"][0])

    record = json.loads((song / "clap.json").read_text())
    audio, rate = read_audio(song / "master.wav")
    assert record["clap_score"] == pytest.approx(clap_score(load_clap(str(model)), audio, rate, album.songs[0].style),
                                                 abs=1e-6)
    assert record["text"] == album.songs[0].style and record["licence"].startswith("terms not checked")
    row = next(csv.DictReader((song.parent / "metrics.csv").open()))
    assert float(row["clap_score"]) == pytest.approx(record["clap_score"], abs=1e-5)

    client = MlflowClient(uri)
    parent = client.get_run(result["mlflow_run_id"])
    [child] = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert child.data.metrics["clap_score"] == pytest.approx(record["clap_score"], abs=1e-6)
    assert "clap.json" in {artifact.path for artifact in client.list_artifacts(child.info.run_id)}
    assert ">clap score<" in Path(result["report"]).read_text()  # on the review page, with the other metrics
