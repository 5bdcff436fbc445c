"""The project's dvc.yaml with real dvc and git: repro, a no-op repro, a param change, an experiment, a push.

The slow test copies dvc.yaml, params.yaml and the DVC config into a temp git repo with a
tiny album in place of the demo; the stage's `.venv/bin/songforge` is this checkout's (a
symlink), so the code it runs is the code under test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from songforge.album_file import load_album
from songforge.artifacts import file_sha256

ROOT = Path(__file__).resolve().parents[1]
DVC = ROOT / ".venv" / "bin" / "dvc"
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"


def project_dvc() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def test_every_listed_album_exists_and_names_its_output_folder():
    dvc = project_dvc()
    albums = dvc["vars"][0]["albums"]
    assert albums, "dvc.yaml lists no album"
    plot_sources = [set(plot["y"]) for entry in dvc["plots"] for plot in entry.values()]
    for name, slug in albums.items():
        album_file = ROOT / "params" / "albums" / f"{name}.yaml"
        assert album_file.is_file(), f"dvc.yaml lists album '{name}', but {album_file} does not exist"
        assert load_album(album_file).slug == slug, f"{name}: output folder should be '{load_album(album_file).slug}'"
        assert f"out/{slug}/metrics.json" in dvc["metrics"], f"add out/{slug}/metrics.json under metrics:"
        assert all(f"out/{slug}/metrics.csv" in sources for sources in plot_sources), f"add {slug} to every plot"


def test_stage_passes_params_yaml_as_overrides():
    stage = project_dvc()["stages"]["album"]["do"]
    assert "--overrides params.yaml" in stage["cmd"] and stage["params"] == ["engine"]
    assert set(yaml.safe_load((ROOT / "params.yaml").read_text())["engine"]) >= {"temperature"}


def dvc(repo: Path, *args: str, env: dict) -> str:
    done = subprocess.run([str(DVC), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def tiny_album(seeds: tuple[int, int] = (1, 2)) -> str:
    songs = [{"title": f"Tiny {i + 1}", "lyrics": LYRICS, "bpm": [120, 100][i], "key": ["C major", "A minor"][i],
              "seed": seed, "duration_s": 10} for i, seed in enumerate(seeds)]
    return yaml.safe_dump({"title": "Tiny Album", "concurrency": 2, "songs": songs}, sort_keys=False)


def make_repo(tmp_path: Path) -> Path:
    """A git repo holding the project's DVC files, code and lyrics, with a two-song album of 10 s songs."""
    repo = tmp_path / "repo"  # the default remote, ../songforge-dvc-store, lands in tmp_path
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "cache", "tmp", "config.local")
    for folder in ("songforge", "tasks", "flows", "app", "params/lyrics", ".dvc"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=ignore)
    for name in ("params.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    dvc_yaml = (ROOT / "dvc.yaml").read_text()
    assert "demo: demo-album" in dvc_yaml and "out/demo-album/" in dvc_yaml
    (repo / "dvc.yaml").write_text(dvc_yaml.replace("demo: demo-album", "tiny: tiny-album")
                                   .replace("out/demo-album/", "out/tiny-album/"))
    (repo / "params" / "albums").mkdir()
    (repo / "params" / "albums" / "tiny.yaml").write_text(tiny_album())
    (repo / ".venv").symlink_to(ROOT / ".venv")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tiny album")
    return repo


def files_state(folder: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, file_sha256(p))
            for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest(album: Path, song: str) -> dict:
    return json.loads((album / song / "manifest.json").read_text())


@pytest.mark.slow
def test_repro_skips_when_unchanged_reruns_on_change_and_runs_experiments(prefect_api, tmp_path):
    from mlflow import MlflowClient

    from songforge.engine.sketch.params import SketchParams

    repo = make_repo(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PREFECT_API_URL=prefect_api, DVC_NO_ANALYTICS="1")
    album = repo / "out" / "tiny-album"

    log = dvc(repo, "repro", env=env)
    assert "Running stage 'album@tiny'" in log
    metrics = json.loads((album / "metrics.json").read_text())
    assert metrics["album"]["songs"] == 2 and set(metrics["songs"]) == {"01-tiny-1", "02-tiny-2"}
    assert abs(metrics["album"]["lufs_mean"] + 14) <= 0.5 and "tempo_error_pct" in metrics["songs"]["01-tiny-1"]
    shown = json.loads(dvc(repo, "metrics", "show", "--json", env=env))
    assert next(iter(shown.values()))["data"]["out/tiny-album/metrics.json"]["data"] == metrics  # "" = workspace

    first = manifest(album, "01-tiny-1")  # lineage, from a real flow run
    tags = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}").get_run(first["runs"]["mlflow"]["run_id"]).data.tags
    assert first["runs"]["prefect"]["flow_run_id"] and first["runs"]["prefect"]["task_run_id"]
    assert tags["songforge.manifest_sha256"] == file_sha256(album / "01-tiny-1" / "manifest.json")
    assert first["outputs"]["master"]["master"]["sha256"] == file_sha256(album / "01-tiny-1" / "master.wav")

    before = files_state(album)
    lock = (repo / "dvc.lock").read_text()
    log = dvc(repo, "repro", env=env)
    assert "didn't change, skipping" in log and "Running stage" not in log
    assert "up to date" in dvc(repo, "status", env=env)
    assert files_state(album) == before and (repo / "dvc.lock").read_text() == lock

    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "built")
    (repo / "params" / "albums" / "tiny.yaml").write_text(tiny_album(seeds=(1, 7)))  # song 2 only
    assert "Running stage 'album@tiny'" in dvc(repo, "repro", env=env)
    after = files_state(album)
    assert after["02-tiny-2/master.wav"][1] != before["02-tiny-2/master.wav"][1]
    assert after["01-tiny-1/master.wav"] == before["01-tiny-1/master.wav"]  # reused, not remade
    again = manifest(album, "01-tiny-1")  # a new album run (its spec changed) tracks the reused song anew
    assert again["outputs"] == first["outputs"] and again["runs"]["mlflow"] != first["runs"]["mlflow"]
    assert "up to date" in dvc(repo, "status", env=env)

    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "new seed")
    param = "temperature" if "temperature" in SketchParams.model_fields else "humanize"
    dvc(repo, "exp", "run", "-S", f"engine.{param}=0.8", env=env)
    assert manifest(album, "02-tiny-2")["params"]["engine"]["params"][param] == 0.8  # the override won
    experiments = json.loads(dvc(repo, "exp", "show", "--json", env=env))
    runs = [rev for commit in experiments for exp in commit.get("experiments") or [] for rev in exp["revs"]]
    assert len(runs) == 1
    data = runs[0]["data"]
    assert data["params"]["params.yaml"]["data"]["engine"][param] == 0.8
    exp_metrics = data["metrics"]["out/tiny-album/metrics.json"]["data"]
    assert exp_metrics["album"]["songs"] == 2 and exp_metrics == json.loads((album / "metrics.json").read_text())

    plots = tmp_path / "plots"
    dvc(repo, "plots", "show", "-o", str(plots), env=env)
    page = (plots / "index.html").read_text()
    assert all(title in page for title in ("Loudness per song", "Vocal range per song", "Tempo error per song"))

    dvc(repo, "push", env=env)
    store = tmp_path / "songforge-dvc-store"
    pushed = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".dir") for p in pushed) and len(pushed) > 20, pushed
