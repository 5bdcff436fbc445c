"""The CLI's own Prefect API: a real server process on 127.0.0.1, shared by consecutive commands, and by
commands started together; guarded against web pages (tests/http_probe.py)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from http_probe import assert_prefect_client_works, assert_prefect_guarded

from app.local_api import LocalApi, _alive, _wait_gone
from songforge.errors import SongforgeError

ROOT = Path(__file__).resolve().parents[1]


def test_a_command_starts_the_server_and_the_next_one_reuses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with LocalApi(idle_s=3) as first:
        url = first.start()
        assert url.startswith("http://127.0.0.1:") and not first.reused
        first.wait(timeout_s=120)
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert response.status == 200
    assert _alive(first.pid)  # a shared server outlives its command
    with LocalApi(idle_s=3) as second:
        assert second.start() == url and second.reused and second.pid == first.pid
        second.wait(timeout_s=10)
    deadline = time.monotonic() + 60
    while _alive(first.pid) and time.monotonic() < deadline:  # idle for 3 s: it goes
        time.sleep(0.5)
    assert not _alive(first.pid)


def test_idle_zero_stops_the_server_with_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with LocalApi(idle_s=0) as api:
        api.start()
        api.wait(timeout_s=120)
    assert not _alive(api.pid) and not api.state.exists()


def test_an_unusable_prefect_home_says_how_to_fix_it(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where PREFECT_HOME's folder should be")
    monkeypatch.setenv("PREFECT_HOME", str(blocked))
    with pytest.raises(SongforgeError, match="PREFECT_API_URL"):
        LocalApi(idle_s=0).start()


def test_the_local_api_refuses_other_web_pages_and_serves_our_client(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with LocalApi(idle_s=0) as api:
        api.start()
        api.wait(timeout_s=120)
        assert_prefect_guarded(api.url)
        assert_prefect_client_works(api.url)


# A command's start-up, in a process of its own: waits at the line until the test says go.
STARTER = """
import sys, time
from pathlib import Path
from app.local_api import LocalApi

Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
api = LocalApi(idle_s=120)
api.start()
api.wait(timeout_s=240)
print(api.url, api.pid)
"""


def servers_of(home: Path) -> list[int]:
    """The pids of local API server processes serving `home` (their command line names its beat file)."""
    beat = str(home / "songforge-local-api.beat").encode()
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        if b"app.local_api" in text and beat in text:
            pids.append(int(cmdline.parent.name))
    return sorted(pids)


def test_two_commands_started_together_share_one_server(tmp_path):
    home = tmp_path / "prefect"
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path / f"at-line-{i}"), str(tmp_path / "go")],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"at-line-{i}").exists() for i in range(2)) and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / "go").touch()
        results = [starter.communicate(timeout=300) for starter in starters]
        assert all(starter.returncode == 0 for starter in starters), results
        (url_a, pid_a), (url_b, pid_b) = (out.split() for out, _ in results)
        assert url_a == url_b and pid_a == pid_b, results
        assert servers_of(home) == [int(pid_a)]
    finally:
        for starter in starters:
            starter.kill()
        for pid in servers_of(home):
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 10)
