"""The album flow end to end on the sketch engine: a real Prefect API, a real MLflow sqlite store, real audio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_plan_flows import task_run_states

from songforge.album_file import load_album
from songforge.audio.io import read_audio
from songforge.audio.loudness import integrated_lufs, true_peak_dbtp
from songforge.plan import plan_song

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SONG_FILES = ["lyrics.txt", "stems/vocals.wav", "stems/instrumental.wav", "mix.wav", "master.wav",
              "master.mp3", "metrics.json", "waveform.png", "pitch.png", "take.json"]


def short_album(tmp_path: Path, songs: int = 2, seconds: float = 14, name: str = "Song") -> Path:
    lyrics = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"
    specs = [{"title": f"{name} {i}", "lyrics": lyrics, "bpm": [120, 100, 110][i % 3],
              "key": ["C major", "A minor", "E minor"][i % 3], "seed": i, "duration_s": seconds} for i in range(songs)]
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Test Album", "concurrency": 2, "songs": specs}))
    return path


def run_cli(album: Path, out: Path, uri: str, api: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_API_URL": api, "MLFLOW_TRACKING_URI": uri}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "album", str(album), "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def test_album_runs_masters_measures_and_tracks(prefect_api, tmp_path):
    from mlflow import MlflowClient

    from flows.album import album_flow

    album = load_album(short_album(tmp_path))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = album_flow(album, str(tmp_path / "out"), uri)

    for folder, row in zip(first["folders"], first["songs"]):
        for name in SONG_FILES:
            assert (Path(folder) / name).is_file(), name
        master, rate = read_audio(Path(folder) / "master.wav")
        assert abs(integrated_lufs(master, rate) - album.master.target_lufs) <= 0.5
        assert true_peak_dbtp(master, rate) <= album.master.true_peak_dbtp + 1e-3
        assert row["tempo_acc1"] == 1 and row["key_score"] >= 0.5
        assert json.loads((Path(folder) / "metrics.json").read_text())["lufs"] == pytest.approx(row["lufs"])
    album_folder = Path(first["report"]).parent
    assert (album_folder / "metrics.csv").read_text().count("\n") == len(album.songs) + 1
    html = Path(first["report"]).read_text()
    assert all(song.title in html for song in album.songs) and "<audio" in html

    client = MlflowClient(uri)
    parent = client.get_run(first["mlflow_run_id"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(c.info.run_name for c in children) == [s.title for s in album.songs]
    assert all("lufs" in c.data.metrics for c in children)
    assert {"master.mp3", "pitch.png", "waveform.png"} <= {a.path for a in client.list_artifacts(children[0].info.run_id)}
    # the album's own numbers, to compare albums in the MLflow UI, and a link to its runs page there
    assert parent.data.metrics["lufs_mean"] == pytest.approx(sum(r["lufs"] for r in first["songs"]) / 2, abs=1e-3)
    assert parent.data.metrics["songs_meeting_all_targets"] == 2 and parent.data.metrics["tempo_acc1_target_met"] == 2
    assert f"#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}" in first["mlflow_page"]

    again = album_flow(album, str(tmp_path / "out"), uri, return_state=True)
    second = again.result()
    assert second["mlflow_run_id"] == first["mlflow_run_id"]  # all cache hits: nothing re-logged
    for step in plan_song(album.songs[0], album).names:  # every step of every song from the cache
        assert task_run_states(again, f"{step}-%") == ["Cached"] * len(album.songs), step
    assert set(task_run_states(again, "track-%")) == {"Cached"}  # the songs' and the album's MLflow runs

    song = Path(first["folders"][0])
    mixed, manifest = (song / "mix.wav").stat().st_mtime_ns, (song / "manifest.json").read_bytes()
    for stem in (song / "stems").iterdir():
        stem.unlink()  # regenerated: the same audio must give the same bytes, so nothing downstream reruns
    third = album_flow(album, str(tmp_path / "out"), uri)
    assert (song / "stems" / "vocals.wav").is_file() and (song / "mix.wav").stat().st_mtime_ns == mixed
    assert (song / "manifest.json").read_bytes() == manifest and third["mlflow_run_id"] == first["mlflow_run_id"]


def test_killed_album_resumes_without_generating_twice(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    album_file = short_album(tmp_path, songs=3, seconds=12, name="Resumed")
    out, uri = tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = run_cli(album_file, out, uri, prefect_api, start_new_session=True)
    first_stems = out / "test-album" / "01-resumed-0" / "stems" / "vocals.wav"
    deadline = time.time() + 300
    while not first_stems.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, first.stdout.read()
    os.killpg(first.pid, signal.SIGKILL)  # killed mid-album
    first.wait()
    assert not (out / "test-album" / "report.html").exists()

    second = run_cli(album_file, out, uri, prefect_api)
    log, _ = second.communicate(timeout=600)
    assert second.returncode == 0, log
    assert (out / "test-album" / "report.html").is_file()

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="generate-0")))
    ours = [r for r in runs if "resumed" in r.name and r.state]
    made = [r.name for r in ours if r.state.name == "Completed"]
    assert sorted(made) == sorted(set(made)), made  # no song generated twice
    # A run killed after its step returned, before Prefect marked it Completed, left its record: reused.
    assert set(made) | {r.name for r in ours if r.state.name == "Cached"} == {f"generate-0{i + 1}-resumed-{i}"
                                                                              for i in range(3)}


def test_two_album_commands_at_once_make_each_song_once(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    album_file = short_album(tmp_path, songs=2, seconds=10, name="Twice")
    out, uri = tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = [run_cli(album_file, out, uri, prefect_api) for _ in range(2)]
    logs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], logs

    with get_client(sync_client=True) as client:
        generated = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="generate-0")))
    made = sorted(r.name for r in generated if "twice" in r.name and r.state and r.state.name == "Completed")
    assert made == ["generate-01-twice-0", "generate-02-twice-1"], made  # the other command waited, then reused them
