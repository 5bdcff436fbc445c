"""A Prefect API server for one CLI run, booted in a subprocess while the CLI imports its flows.

Without PREFECT_API_URL, Prefect starts a temporary server the first time a flow needs a
client: it imports the whole server stack in the calling process (~3.5 s here) and only
then spawns the server, which imports it again and boots (~4 s). For a rerun whose stages
are all cached that start-up is most of the wall time. Starting the same server ourselves,
first thing, lets it boot on the other core while this process imports Prefect and MLflow.
The command and environment are those of Prefect's own temporary server
(prefect.server.api.server.SubprocessASGIServer); only the moment it starts differs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from songforge.errors import SongforgeError


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalApi:
    """`start()` before importing Prefect; `wait()` before the first flow; `stop()` at the end."""

    def __init__(self) -> None:
        self.url = ""
        self.process: subprocess.Popen | None = None
        # The server's own output (including the tracebacks uvicorn prints on a normal shutdown) goes
        # here, not to the user's terminal; it is shown if the server fails to start.
        self.log = tempfile.TemporaryFile(mode="w+b")

    def start(self) -> str:
        port = _free_port()
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env.pop("PREFECT_API_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/api"
        return self.url

    def wait(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SongforgeError(f"the local Prefect API exited with code {self.process.returncode} while "
                                     f"starting ({self._log_tail()}). Fix: run `prefect server start` and set "
                                     "PREFECT_API_URL, or check that PREFECT_HOME is writable.")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise SongforgeError(f"the local Prefect API did not answer at {self.url} within {timeout_s:.0f} s. "
                             "Fix: run `prefect server start` and set PREFECT_API_URL to it.")

    def _log_tail(self, chars: int = 600) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:].strip() or "no output"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self) -> "LocalApi":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
