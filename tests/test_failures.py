"""Failure hygiene: a failing or rejected song fails alone, with its reason in MLflow, the report and the summary;
the engine guard's strict limit frees its slot on a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from songforge.album_file import load_album
from songforge.engine.base import EngineParams, Stems
from songforge.engine.take import generate_step
from songforge.errors import EngineError, ParamsError
from songforge.registry import register_engine

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"
BROKEN_ENGINE = "the test engine fell over on purpose"


class RaisingParams(EngineParams):
    pass


class RaisingEngine:
    """A real engine in the registry whose every generate() raises, as a crashed model would."""

    name: ClassVar[str] = "raising"
    Params: ClassVar[type[EngineParams]] = RaisingParams
    steps = (generate_step("raising", version="1"),)
    tag_vocabulary = None

    def identity(self, params: EngineParams) -> str:
        return "raising-v1"

    def model_revision(self, params: EngineParams) -> str:
        return "none"

    def generate(self, song, params, seed, progress=None) -> Stems:
        raise EngineError(BROKEN_ENGINE)


register_engine("raising", f"{__name__}:RaisingEngine")


def album_file(tmp_path: Path, songs: list[dict]) -> Path:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Mixed Fortunes", "concurrency": 2, "songs": songs}))
    return path


def test_lenient_load_sets_aside_songs_with_bad_lyrics_only(tmp_path):
    path = album_file(tmp_path, [{"title": "Fine", "lyrics": LYRICS},
                                 {"title": "No Tags", "lyrics": "just words, no sections"},
                                 {"title": "Gone", "lyrics_file": "missing.txt"},
                                 {"title": "Last", "lyrics": LYRICS}])
    with pytest.raises(ParamsError, match=r"songs\[1\]\.lyrics"):
        load_album(path)  # strict (the default) still fails the whole album
    album = load_album(path, lenient_songs=True)
    assert [s.title for s in album.songs] == ["Fine", "Last"]
    assert album.song_numbers == [1, 4]  # folders keep their place in the album file
    assert [(r.index, r.title) for r in album.rejected] == [(1, "No Tags"), (2, "Gone")]
    assert "songs[1].lyrics: no section tags found" in album.rejected[0].reason and "Fix:" in album.rejected[0].reason
    assert "lyrics_file" in album.rejected[1].reason

    path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "Bad Bpm", "lyrics": LYRICS, "bpm": 999}]}))
    with pytest.raises(ParamsError, match=r"songs\[0\]\.bpm"):
        load_album(path, lenient_songs=True)  # structural errors are never a song's own failure
    path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "Only", "lyrics": ""}]}))
    with pytest.raises(ParamsError, match="no song has usable lyrics"):
        load_album(path, lenient_songs=True)


@pytest.mark.slow
def test_failing_and_rejected_songs_fail_alone(prefect_api, tmp_path, capsys):
    from mlflow import MlflowClient

    from flows.album import album_flow
    from app.cli import _print_summary

    path = album_file(tmp_path, [
        {"title": "Survivor", "lyrics": LYRICS, "duration_s": 10, "bpm": 120},
        {"title": "Broken Engine", "lyrics": LYRICS, "duration_s": 10, "engine": {"name": "raising"}},
        {"title": "Bad Lyrics", "lyrics": "[verse]\n"}])
    album = load_album(path, lenient_songs=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = album_flow(album, str(tmp_path / "out"), uri)

    assert set(result["failed"]) == {"Broken Engine", "Bad Lyrics"}
    assert BROKEN_ENGINE in result["failed"]["Broken Engine"] and result["failed"]["Broken Engine"].startswith("generate")
    assert "songs[2].lyrics" in result["failed"]["Bad Lyrics"]
    survivor = Path(result["folders"][0])
    assert survivor.name == "01-survivor" and (survivor / "master.wav").is_file()
    assert Path(result["folders"][1]).name == "02-broken-engine"

    client = MlflowClient(uri)
    parent = client.get_run(result["mlflow_run_id"])
    assert parent.info.status == "FAILED" and "Broken Engine" in parent.data.tags["songforge.failed_songs"]
    children = {run.info.run_name: run for run in client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")}
    assert children["Survivor"].info.status == "FINISHED"
    assert children["Broken Engine"].info.status == "FAILED"
    assert BROKEN_ENGINE in children["Broken Engine"].data.tags["songforge.error"]
    assert children["Bad Lyrics"].info.status == "FAILED"

    html = Path(result["report"]).read_text()
    assert BROKEN_ENGINE in html and "Bad Lyrics" in html and "no lines" in html
    csv = (Path(result["report"]).parent / "metrics.csv").read_text()
    assert csv.count("\n") == 4 and BROKEN_ENGINE in csv
    songs = json.loads((Path(result["report"]).parent / "metrics.json").read_text())["songs"]
    assert list(songs) == ["01-survivor"]  # DVC's numbers: only songs that were measured

    _print_summary(result)
    printed = capsys.readouterr().out
    assert "failed: Broken Engine: generate" in printed and "failed: Bad Lyrics:" in printed
    assert [line.split()[0] for line in printed.splitlines()[2:5]] == ["Survivor", "Broken", "Bad"]


def test_engine_guard_holds_a_strict_host_slot_and_frees_it_on_failure(prefect_api, monkeypatch):
    from prefect.client.orchestration import get_client

    from tasks.gpu import engine_slot, limit_name

    monkeypatch.setenv("SONGFORGE_GPU_GUARD", "on")
    monkeypatch.setenv("SONGFORGE_HOST", "guard-test-host")
    monkeypatch.setenv("SONGFORGE_GPU_SLOTS", "1")
    name = limit_name()
    assert name == "gpu-guard-test-host"

    def active() -> int:
        with get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(name).active_slots

    with engine_slot():  # the limit is created on first use, with the host's slot count
        assert active() == 1
    assert active() == 0
    with pytest.raises(EngineError):
        with engine_slot():
            raise EngineError("out of memory")
    assert active() == 0  # a failed engine gives its slot back
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).limit == 1


CLI_WITH_RAISING_ENGINE = """
import sys
import tests.test_failures  # registers the raising engine in this process
from app.cli import app
app()
"""


@pytest.mark.slow
def test_the_cli_prints_one_line_per_failed_song_and_no_prefect_task_states(tmp_path):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    path = album_file(tmp_path, [{"title": "Survivor", "lyrics": LYRICS, "duration_s": 10, "bpm": 120},
                                 {"title": "Broken Engine", "lyrics": LYRICS, "duration_s": 10,
                                  "engine": {"name": "raising"}}])
    run = subprocess.run([sys.executable, "-c", CLI_WITH_RAISING_ENGINE, "album", str(path), "--out", "out"],
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 1, run.stderr[-3000:]
    lines = run.stderr.replace("\r", "\n").splitlines()
    assert [line for line in lines if line.startswith("failed:")] == [
        f"failed: Broken Engine: generate: {BROKEN_ENGINE}"]
    assert not [line for line in lines if "NotReady" in line or "Finished in state" in line], run.stderr[-3000:]
    assert "Error logging to API" not in run.stderr
    assert f"failed: Broken Engine: generate: {BROKEN_ENGINE}" in run.stdout  # and once more in the summary


def test_a_song_that_failed_on_another_host_gets_its_card_in_the_report(tmp_path):
    """A deployment song run that failed hands back only its error and its (absolute) folder."""
    from songforge.plan import plan_song
    from songforge.report.album import album_report

    album = load_album(album_file(tmp_path, [{"title": "Elsewhere", "lyrics": LYRICS}]))
    album_dir = tmp_path / "out" / album.slug
    failed = {"error": "flow run far-away crashed: its host is gone", "folder": str(album_dir / "01-elsewhere")}
    report = album_report(album, [failed], album_dir, [plan_song(album.songs[0], album).view()])
    html = report.path("html").read_text()
    assert "Elsewhere" in html and "its host is gone" in html
