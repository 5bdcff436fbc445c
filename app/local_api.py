"""The Prefect API the CLI uses when PREFECT_API_URL is unset: one local server, shared by consecutive commands.

Prefect's own fallback starts a temporary server inside every command (it imports the server
stack, then boots it: ~4.5 s here), which is most of the wall time of a rerun whose stages are
all cached. Instead the first command starts the same server (Prefect's `create_app`, on
127.0.0.1) as a detached process; later commands find it through a state file in
PREFECT_HOME and reuse it, as a build daemon does. It exits once no command has used it for
SONGFORGE_LOCAL_API_IDLE_S seconds (default 600; 0 stops it when the command ends). A
command keeps it alive while it runs, however long that is.

Commands started together share one server: the one that starts it holds the lock file until it
answers, so the others wait for it and reuse it. The server is guarded against web pages as
`songforge serve`'s is (app/api_app.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from songforge.errors import SongforgeError
from songforge.paths import write_json

from .api_app import LOOPBACK_NAMES, server_env
from .api_app import config as api_config

IDLE_ENV = "SONGFORGE_LOCAL_API_IDLE_S"
DEFAULT_IDLE_S = 600
_BEAT_S = 20  # how often a running command tells the server it is still in use


def prefect_home() -> Path:
    """Prefect's home folder, without importing Prefect (that is the slow part this module avoids)."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def idle_seconds() -> int:
    value = os.environ.get(IDLE_ENV, str(DEFAULT_IDLE_S))
    try:
        return max(0, int(value))
    except ValueError:
        raise SongforgeError(f"{IDLE_ENV}={value!r} is not a whole number of seconds. Fix: set it to e.g. 600, "
                             "or 0 to stop the local Prefect API after each command.") from None


def _healthy(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as response:
            return response.status == 200
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalApi:
    """`start()` before importing Prefect (returns the URL at once), `wait()` before the first flow,
    `close()` at the end (leaves a shared server running, stops a per-command one)."""

    def __init__(self, idle_s: int | None = None, home: Path | None = None):
        self.idle_s = idle_seconds() if idle_s is None else idle_s
        self.home = home or prefect_home()
        self.state = self.home / "songforge-local-api.json"
        self.beat = self.home / "songforge-local-api.beat"
        self.log = self.home / "songforge-local-api.log"
        self.url, self.pid, self.reused = "", 0, False
        self._stop = threading.Event()
        self._lock = None  # the open lock file, while this command starts the server

    def start(self) -> str:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.home / "songforge-local-api.lock", "w")
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # two commands starting at once share one server
            self._touch()
            known = json.loads(self.state.read_text()) if self.state.is_file() else None
            if known and self.idle_s and _usable(known):
                self.url, self.pid, self.reused = known["url"], known["pid"], True
                self._unlock()
            else:
                self._spawn()  # the lock is held until it answers (`wait`): a command starting meanwhile reuses it
        except OSError as error:
            self._unlock()
            raise SongforgeError(f"cannot start the local Prefect API in {self.home} ({error}). Fix: make "
                                 "PREFECT_HOME a writable folder, or run `prefect server start` and set "
                                 "PREFECT_API_URL to it.") from error
        if self.idle_s:
            threading.Thread(target=self._keep_alive, daemon=True, name="local-api-beat").start()
        return self.url

    def _spawn(self) -> None:
        port = _free_port()
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               # Block types are registered by `prefect server start`; our flow runs load no block.
               "PREFECT_API_BLOCKS_REGISTER_ON_START": "false", **server_env(LOOPBACK_NAMES, port)}
        env.pop("PREFECT_API_URL", None)
        with open(self.log, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.local_api", str(port), str(self.beat), str(self.idle_s or 86_400)],
                cwd=Path(__file__).resolve().parents[1], env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)  # outlives this command, holds no terminal
        self.url, self.pid = f"http://127.0.0.1:{port}/api", process.pid
        write_json(self.state, {"url": self.url, "pid": self.pid})  # atomic: a killed command leaves no half file

    def wait(self, timeout_s: float = 120.0) -> None:
        try:
            self._wait(timeout_s)
        finally:
            self._unlock()

    def _wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _healthy(self.url, 1.0):
                return
            if not _alive(self.pid):
                raise SongforgeError(f"the local Prefect API exited while starting ({self._log_tail()}). Fix: "
                                     "check that PREFECT_HOME is writable, or run `prefect server start` and set "
                                     "PREFECT_API_URL to it.")
            time.sleep(0.05)
        raise SongforgeError(f"the local Prefect API did not answer at {self.url} within {timeout_s:.0f} s. "
                             "Fix: run `prefect server start` and set PREFECT_API_URL to it.")

    def close(self) -> None:
        self._unlock()
        self._stop.set()
        self._touch()  # idle time counts from the end of the last command
        if not self.idle_s and self.pid and _alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            _wait_gone(self.pid, 10.0)
            self.state.unlink(missing_ok=True)

    def _keep_alive(self) -> None:
        every = min(_BEAT_S, max(0.5, self.idle_s / 4))  # well inside the idle time, however short
        while not self._stop.wait(every):
            self._touch()

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases its flock
            self._lock = None

    def _touch(self) -> None:
        self.beat.touch()

    def _log_tail(self, chars: int = 600) -> str:
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return text[-chars:].strip() or "no output"

    def __enter__(self) -> "LocalApi":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _usable(known: dict) -> bool:
    """Whether the server named in the state file can be reused: it answers, or it is still booting
    (its starter died before it answered; `wait` gives it the time a new one would need)."""
    return _healthy(known["url"], 1.0) or _is_local_api(known["pid"])


def _is_local_api(pid: int) -> bool:
    """A live local API server, not a process that took a dead server's pid (Linux; elsewhere: no)."""
    try:
        return b"app.local_api" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that has exited: reap it
            return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def serve(port: int, beat: Path, idle_s: float) -> None:
    """The server process: Prefect's API app, guarded (app/api_app.py), until `beat` is older than idle_s."""
    import uvicorn

    config = api_config("127.0.0.1", port, log_level="error")
    server = uvicorn.Server(config)

    def watch() -> None:
        while not server.should_exit:
            time.sleep(1.0)
            try:
                idle = time.time() - beat.stat().st_mtime
            except OSError:
                idle = idle_s + 1  # the state folder is gone: so is whoever used us
            if idle > idle_s:
                server.should_exit = True

    threading.Thread(target=watch, daemon=True).start()
    server.run()


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
