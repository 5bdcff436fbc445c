"""The plan's shape under a deployment: a real `prefect server` and a real process worker, whose flow-run
processes find a plugin's step and engine through an installed entry point (tests/plugins/), as a GPU host
with the plugin package installed would; the worker runs three songs at once on one GPU slot."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from test_multihost import ROOT, Cluster, finished, hosts_of

pytestmark = pytest.mark.slow
PLUGINS = Path(__file__).resolve().parent / "plugins"
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"
ENTRY_POINTS = "[songforge.plugins]\ngain = songforge_gain\ntoy = songforge_toy\n"


class PluginHost(Cluster):
    """The server, and one host (one GPU slot, three flow runs at once) with the test plugins installed."""

    def env(self, home: str, **extra: str) -> dict[str, str]:
        return {**super().env(home, **extra), "PYTHONPATH": os.pathsep.join([str(self.root / "site"), str(PLUGINS)]),
                "TOY_ENGINE_LOG": str(self.root / "render.log"), "TOY_HOLD_S": "2"}

    def start(self) -> None:
        info = self.root / "site" / "songforge_test_plugins-1.0.dist-info"  # what pip leaves for a plugin package
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: songforge-test-plugins\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(ENTRY_POINTS)
        self.start_server()
        self.spawn("plugin-host", [sys.executable, "-m", "app.cli", "worker", "--host", "plugin-host", "--slots", "1",
                                   "--runs", "3"], self.env("plugin-host-home", PREFECT_WORKER_QUERY_SECONDS="2"))


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    cluster = PluginHost(tmp_path_factory.mktemp("plugin-host"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def write_album(folder: Path, title: str, songs: list[dict]) -> Path:
    path = folder / f"{title.lower().replace(' ', '-')}.yaml"
    path.write_text(yaml.safe_dump({"title": title, "songs": songs}))
    return path


def test_a_deployment_worker_finds_a_plugins_step_and_runs_it(host, tmp_path):
    album = write_album(tmp_path, "Gained Remote", [{"title": "Far", "lyrics": LYRICS, "duration_s": 10}])
    finished(host.submit(album), timeout_s=600)
    song = host.out / "gained-remote" / "01-far"
    assert (song / "gain.wav").is_file() and (song / "master.wav").is_file()
    runs = host.song_runs("gained-remote")
    assert len(runs) == 1 and hosts_of(runs[0]) == {"plugin-host"}
    assert "gain-01-far" in {run.name for run in host.task_runs([runs[0].id])}


def test_a_plugin_engines_model_steps_take_turns_under_the_hosts_limit(host, tmp_path):
    songs = [{"title": f"Toy {n}", "lyrics": LYRICS, "seed": n, "engine": {"name": "toy"}} for n in range(3)]
    finished(host.submit(write_album(tmp_path, "Toy Remote", songs)), timeout_s=600)
    runs = host.song_runs("toy-remote")
    assert len(runs) == 3 and all(hosts_of(run) == {"plugin-host"} for run in runs)
    entries = [json.loads(line) for line in (host.root / "render.log").read_text().splitlines()]
    assert len({entry["pid"] for entry in entries}) == 3  # three song runs, each its own process, at once
    spans = sorted((entry["start"], entry["end"]) for entry in entries)
    assert all(later[0] >= earlier[1] - 0.01 for earlier, later in zip(spans, spans[1:])), spans
    # ...while the three song runs were under way together: the turns came from the limit, not from the worker
    assert max(run.start_time for run in runs) < min(run.end_time for run in runs)
