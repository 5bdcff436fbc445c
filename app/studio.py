"""`songforge serve`: the one-box studio. A Prefect server and an MLflow server (on 127.0.0.1 unless --host
says otherwise, see app/studio_access.py), the work pools, the deployments, and a worker per pool, until
Ctrl-C stops them all (last started, first stopped).

Each service writes its output to <logs>/<name>.log; what they print is not mixed into the terminal.
"ready" means ready: nothing the servers start is still booting (MLflow runs as one process, below).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from songforge.errors import SongforgeError

from .hosts import GPU_POOL, STUDIO_POOL, setup, worker_argv
from .studio_access import Access, access_for

STOP_WAIT_S = 15
# `mlflow server` starts 4 uvicorn workers and a job runner with 7 Huey consumers (GenAI jobs, unused here)
# by default; all but one worker boot after /health first answers, importing MLflow at once (~30 CPU-s),
# so "ready" was followed by a load spike in which /health timed out on a busy 2-core box. One worker
# (the one /health answered from) and no job runner: nothing is left to start once it answers.
MLFLOW_ONE_PROCESS = (["--workers", "1"], {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, cwd: Path) -> "Service":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            # Its own session: Ctrl-C reaches serve only, which stops the services in order.
            self.process = subprocess.Popen(self.argv, cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Studio:
    root: Path
    prefect_port: int = 4200
    mlflow_port: int = 5000
    store: str | None = None
    deploy: bool = True
    logs: Path | None = None
    echo: Callable[[str], None] = print
    access: Access = field(default_factory=lambda: access_for("127.0.0.1"))
    services: list[Service] = field(default_factory=list)

    @property
    def ui_url(self) -> str:
        return f"http://{self.access.local_host}:{self.prefect_port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.access.local_host}:{self.mlflow_port}"

    def run(self) -> None:
        """Start everything, print the UIs, wait for Ctrl-C (or a service dying), stop everything."""
        stop = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
        try:
            self.start()
            self.echo(f"Prefect UI  {self.ui_url}\nMLflow UI   {self.mlflow_url}\n"
                      f"in another shell: export PREFECT_API_URL={self.api_url} MLFLOW_TRACKING_URI={self.mlflow_url}\n"
                      "ready; Ctrl-C stops the studio")
            self.watch()
        except KeyboardInterrupt:
            self.echo("stopping")
        finally:
            self.stop()
            signal.signal(signal.SIGTERM, stop)

    def start(self) -> None:
        env, host = self._env(), self.access.host
        self._start("prefect-server", [sys.executable, "-m", "app.api_app", host, str(self.prefect_port)],
                    {**env, **self.access.prefect_env(self.prefect_port)})
        workers, no_jobs = MLFLOW_ONE_PROCESS
        self._start("mlflow-server", [sys.executable, "-m", "mlflow", "server", "--host", host,
                                      "--port", str(self.mlflow_port), *workers,
                                      "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                                      "--artifacts-destination", str(self.root / "mlartifacts"),
                                      *self.access.mlflow_args(self.mlflow_port)],
                    {**env, **no_jobs, **self.access.mlflow_env(os.environ)})
        _wait_healthy(f"{self.api_url}/health", "the Prefect server", self.services[0])
        _wait_healthy(f"{self.mlflow_url}/health", "the MLflow server", self.services[1])
        os.environ.update(PREFECT_API_URL=self.api_url, **self.access.client_env(os.environ))
        for what, outcome in setup(self.store).items():
            self.echo(f"{what}: {outcome}")
        if self.deploy:
            self._deploy(env)
        gpu_argv, gpu_env = worker_argv(GPU_POOL)
        self._start("worker-gpu", gpu_argv, gpu_env)
        self._start("worker-studio", [sys.executable, "-m", "prefect", "worker", "start", "--pool", STUDIO_POOL,
                                      "--type", "process", "--limit", "4"], env)

    def watch(self) -> None:
        while True:
            for service in self.services:
                if service.process.poll() is not None:
                    raise SongforgeError(f"{service.name} exited with code {service.process.returncode}; "
                                         f"see {service.log}. Fix what it says, then run songforge serve again.")
            time.sleep(1)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
            self.echo(f"stopped {service.name}")

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PREFECT_API_URL": self.api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_UI_API_URL": os.environ.get("PREFECT_UI_API_URL", self.api_url),
                "MLFLOW_TRACKING_URI": self.mlflow_url, "PWD": str(self.root), **self.access.client_env(os.environ)}

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        logs = self.logs or self.root / ".songforge" / "logs"
        self.services.append(Service(name, argv, env, logs / f"{name}.log").start(self.root))

    def _deploy(self, env: dict[str, str]) -> None:
        done = subprocess.run([sys.executable, "-m", "prefect", "deploy", "--no-prompt", "--all",
                               "--prefect-file", "deployments/prefect.yaml"],
                              cwd=self.root, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SongforgeError(f"prefect deploy failed ({(done.stdout + done.stderr)[-800:].strip()}). "
                                 "Fix: check deployments/prefect.yaml and the flows it names.")
        self.echo("deployed: album-song/gpu, album-file/nightly (schedule off), sweep-file/sweep")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _wait_healthy(url: str, what: str, service: Service, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise SongforgeError(f"{what} exited with code {service.process.returncode} while starting; see "
                                 f"{service.log}. Fix: free its port (--port / --mlflow-port) or read the log.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SongforgeError(f"{what} did not answer at {url} within {timeout_s:.0f} s; see {service.log}.")
