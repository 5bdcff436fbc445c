"""The CLI's own Prefect API: a real server process on 127.0.0.1, shared by consecutive commands."""

import time
import urllib.request

import pytest

from flows.local_api import LocalApi, _alive
from songforge.errors import SongforgeError


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
