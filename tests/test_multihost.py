"""Several hosts: a real `prefect server`, two real process workers posing as two GPU hosts, songs fanned out.

Each worker has its own PREFECT_HOME and host name (so its own limit gpu-<host>), as separate
machines would; they share only the server, the out folder, the MLflow store and the result
store set with `songforge setup --store`. Killing a "host" kills its worker and the flow-run
processes it started (they run in their own sessions, so the worker's group alone would not).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from songforge.album_file import album_from_dict

ROOT = Path(__file__).resolve().parents[1]
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n[chorus]\nHold on, hold on\n"
DEPLOYMENT = "album-song/gpu"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout_s: float, what: str, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def write_album(folder: Path, title: str, names: list[str]) -> Path:
    songs = [{"title": name, "lyrics": LYRICS, "duration_s": 10, "seed": i, "bpm": [120, 100][i % 2]}
             for i, name in enumerate(names)]
    path = folder / f"{title.lower().replace(' ', '-')}.yaml"
    path.write_text(yaml.safe_dump({"title": title, "songs": songs}))
    return path


class Cluster:
    """The server, the hosts' workers, and helpers to submit albums and read what the server saw."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.out, self.uri = root / "shared" / "out", f"sqlite:///{root / 'shared' / 'mlflow.db'}"
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self, home: str, **extra: str) -> dict[str, str]:
        env = {**os.environ, "PREFECT_API_URL": self.api, "PREFECT_HOME": str(self.root / home),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO", "PWD": str(ROOT),
               "MLFLOW_TRACKING_URI": self.uri, "SONGFORGE_ALLOWED_ROOTS": str(self.root), **extra}
        env.pop("SONGFORGE_GPU_GUARD", None)
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        return self.processes[name]

    def run(self, argv: list[str], home: str = "cli-home", timeout_s: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=ROOT, env=self.env(home), capture_output=True, text=True, timeout=timeout_s)

    def start(self) -> None:
        self.start_server()
        for host in ("host-a", "host-b"):
            self.spawn(host, [sys.executable, "-m", "app.cli", "worker", "--host", host, "--slots", "1"],
                       self.env(f"{host}-home", PREFECT_WORKER_QUERY_SECONDS="2"))

    def start_server(self) -> None:
        """The Prefect server, set up by `songforge setup`, with the project's deployments."""
        server_env = {**self.env("server-home"), "PREFECT_UI_ENABLED": "false"}
        server_env.pop("PREFECT_API_URL")
        self.spawn("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                              "--port", str(self.port)], server_env)
        wait_until(lambda: healthy(f"{self.api}/health"), 180, "the Prefect server")
        setup = self.run([sys.executable, "-m", "app.cli", "setup", "--store", str(self.root / "shared" / "results")])
        assert setup.returncode == 0, setup.stdout + setup.stderr
        deploy = self.run([sys.executable, "-m", "prefect", "deploy", "--no-prompt", "--all",
                           "--prefect-file", "deployments/prefect.yaml"], home="deploy-home")
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr

    def submit(self, album: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "app.cli", "album", str(album), "--out", str(self.out),
                                 "--deployment", DEPLOYMENT], cwd=ROOT, env=self.env("cli-home"),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def client(self):
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api)

    def song_runs(self, album_slug: str) -> list:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

        with self.client() as client:
            return client.read_flow_runs(flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=["songforge", f"album:{album_slug}"])))

    def task_runs(self, flow_run_ids: list) -> list:
        from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

        with self.client() as client:
            return client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(
                any_=flow_run_ids)))

    def kill_host(self, host: str) -> None:
        """The host dies: its worker and every flow-run process under it, at once."""
        import psutil

        worker = psutil.Process(self.processes[host].pid)
        doomed = [worker, *worker.children(recursive=True)]
        for process in doomed:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(doomed, timeout=10)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def finished(process: subprocess.Popen, timeout_s: float) -> str:
    try:
        log, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        log, _ = process.communicate()
        raise AssertionError(f"album did not finish in {timeout_s} s:\n{log[-3000:]}")
    assert process.returncode == 0, log[-3000:]
    return log


def hosts_of(run) -> set[str]:
    return {tag.removeprefix("host:") for tag in run.tags if tag.startswith("host:")}


def test_song_run_key_is_stable_and_names_what_defines_the_song(tmp_path):
    from flows.fanout import song_run_key

    raw = {"title": "Keys", "songs": [{"title": "One", "lyrics": LYRICS}, {"title": "Two", "lyrics": LYRICS}]}
    album = album_from_dict(raw)
    key = song_run_key(album, 0, tmp_path, "parent-1")
    assert key == song_run_key(album_from_dict(raw), 0, tmp_path, "parent-1")
    assert key.startswith("songforge-keys-01-")
    changed = album_from_dict({**raw, "songs": [{"title": "One", "lyrics": LYRICS, "seed": 7}, raw["songs"][1]]})
    others = {song_run_key(album, 1, tmp_path, "parent-1"), song_run_key(changed, 0, tmp_path, "parent-1"),
              song_run_key(album, 0, tmp_path / "elsewhere", "parent-1"), song_run_key(album, 0, tmp_path, "parent-2")}
    assert key not in others and len(others) == 4
    concurrency = album_from_dict({**raw, "concurrency": 4})  # how many at once does not define a song
    assert song_run_key(concurrency, 0, tmp_path, "parent-1") == key


@pytest.mark.slow
def test_album_fans_out_over_two_hosts_and_resubmits_without_new_runs(cluster, tmp_path):
    from mlflow import MlflowClient

    album = write_album(tmp_path, "Split Album", ["North", "South", "East", "West"])
    log = finished(cluster.submit(album), 600)
    runs = cluster.song_runs("split-album")
    assert len(runs) == 4 and all(run.state.is_completed() for run in runs), [(r.name, r.state) for r in runs]
    assert set().union(*map(hosts_of, runs)) == {"host-a", "host-b"}, [(r.name, r.tags) for r in runs]
    for folder in ("01-north", "02-south", "03-east", "04-west"):
        assert (cluster.out / "split-album" / folder / "master.wav").is_file()
    assert "North" in (cluster.out / "split-album" / "report.html").read_text()
    assert "host-a" in log and "host-b" in log  # the summary shows where each song ran

    client = MlflowClient(cluster.uri)
    parent = client.search_runs(client.get_experiment_by_name("songforge").experiment_id,
                                "tags.`songforge.album` = 'split-album'")[0]
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(c.info.run_name for c in children) == ["East", "North", "South", "West"]
    assert {c.info.status for c in children} == {"FINISHED"} and parent.info.status == "FINISHED"

    finished(cluster.submit(album), 300)  # the same album again: each song's run is found by its key
    again = cluster.song_runs("split-album")
    assert sorted(r.id for r in again) == sorted(r.id for r in runs)
    assert [r.run_count for r in sorted(again, key=lambda r: r.name)] == [1, 1, 1, 1]


@pytest.mark.slow
def test_a_host_killed_mid_song_its_song_finishes_on_the_other_host_once(cluster, tmp_path):
    album = write_album(tmp_path, "Kill Album", ["Kill One", "Kill Two"])
    first = cluster.submit(album)

    def generated_on_host_a():
        for run in cluster.song_runs("kill-album"):
            if "host-a" in hosts_of(run) and run.state.is_running():
                done = [t for t in cluster.task_runs([run.id]) if t.name.startswith("generate-") and
                        t.state and t.state.is_completed()]
                if done:
                    return run
        assert first.poll() is None, first.communicate()[0][-3000:]
    victim = wait_until(generated_on_host_a, 400, "a song generated on host-a")
    cluster.kill_host("host-a")  # mid-song: generated, not yet mixed, mastered, measured, tracked

    finished(first, 600)  # its run is marked Crashed when its heartbeats stop, then scheduled again
    runs = cluster.song_runs("kill-album")
    assert len(runs) == 2 and all(run.state.is_completed() for run in runs)
    retried = next(run for run in runs if run.id == victim.id)
    assert hosts_of(retried) == {"host-a", "host-b"} and retried.run_count >= 2

    tasks = cluster.task_runs([run.id for run in runs])
    generated = [t.name for t in tasks if t.name.startswith("generate-") and t.state.name == "Completed"]
    assert sorted(generated) == ["generate-01-kill-one", "generate-02-kill-two"], generated  # never twice
    reused = [t.name for t in tasks if t.flow_run_id == victim.id and t.state.name == "Cached"]
    assert any(name.startswith("generate-") for name in reused), reused  # from the shared store, on host-b

    finished(cluster.submit(album), 300)  # re-submitted: no second run for any song
    assert sorted(r.id for r in cluster.song_runs("kill-album")) == sorted(r.id for r in runs)


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sorted(tree)


def mlflow_server_tree(port: int) -> list[int]:
    """The processes of the `mlflow server` listening on `port`."""
    wanted = f"--port\0{port}\0".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        if b"mlflow\0server\0" in text and wanted in text:
            return process_tree(int(cmdline.parent.name))
    raise AssertionError(f"no mlflow server on port {port}")


@pytest.mark.slow
def test_serve_starts_a_studio_on_localhost_and_ctrl_c_stops_it(tmp_path):
    """One studio for every check: it starts, is ready when it says so, keeps web pages out, and stops."""
    from http_probe import assert_mlflow_guarded, assert_prefect_client_works, assert_prefect_guarded, request
    from prefect.client.orchestration import SyncPrefectClient

    port, mlflow_port = free_port(), free_port()
    ui, api, mlflow = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{mlflow_port}"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "SONGFORGE_HOST": "studio-box", "SONGFORGE_GPU_SLOTS": "1"}
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_API_AUTH_STRING", "MLFLOW_AUTH_ADMIN_PASSWORD"):
        env.pop(name, None)
    serve = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--mlflow-port",
                              str(mlflow_port), "--no-deploy"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        for line in serve.stdout:
            lines.append(line)
            if line.startswith("ready"):
                break
        assert lines and lines[-1].startswith("ready"), "".join(lines)
        # The flake: `mlflow server` went on booting 3 more workers and 8 job processes after "ready", and
        # /health timed out in that load. Now what answered /health is all there is, and nothing starts later.
        mlflow_at_ready = mlflow_server_tree(mlflow_port)
        assert len(mlflow_at_ready) == 2, mlflow_at_ready  # `mlflow server` and its one uvicorn process
        assert ui in "".join(lines) and mlflow in "".join(lines)
        assert healthy(f"{api}/health") and healthy(f"{mlflow}/health")
        with SyncPrefectClient(api) as client:
            assert {p.name for p in client.read_work_pools()} >= {"gpu", "studio"}
            assert client.read_global_concurrency_limit_by_name("gpu-studio-box").limit == 1
            workers = wait_until(lambda: client.read_workers_for_work_pool("gpu"), 120, "the gpu worker")
            assert workers[0].name == "studio-box-gpu"
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        for wanted in (port, mlflow_port):
            assert f"127.0.0.1:{wanted} " in listening and f"0.0.0.0:{wanted} " not in listening

        assert_prefect_guarded(api)
        assert_prefect_client_works(api)
        assert_mlflow_guarded(mlflow)
        status, headers, page = request(ui, headers={"Accept": "text/html"})  # the UI still comes with the API
        assert status == 200 and "text/html" in headers["content-type"] and "<html" in page.lower(), status
        status, _, settings = request(f"{ui}/ui-settings")
        assert status == 200 and '"csrf_enabled":true' in settings.replace(" ", ""), settings
        assert mlflow_server_tree(mlflow_port) == mlflow_at_ready
    finally:
        serve.send_signal(signal.SIGINT)
        rest, _ = serve.communicate(timeout=120)
    assert serve.returncode == 0, "".join(lines) + rest
    assert "stopped prefect-server" in rest and not healthy(f"{api}/health")
    assert not healthy(f"{mlflow}/health")
