"""The CLI's own Prefect API: a real server subprocess on 127.0.0.1, answering, then gone."""

import urllib.request

import pytest

from flows.local_api import LocalApi
from songforge.errors import SongforgeError


def test_local_api_boots_answers_and_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with LocalApi() as api:
        url = api.start()
        assert url.startswith("http://127.0.0.1:")
        api.wait(timeout_s=120)
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert response.status == 200
        process = api.process
    assert process.poll() is not None  # stopped on exit


def test_a_server_that_cannot_start_says_how_to_fix_it(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where PREFECT_HOME's folder should be")
    monkeypatch.setenv("PREFECT_HOME", str(blocked))
    with LocalApi() as api:
        api.start()
        with pytest.raises(SongforgeError, match="PREFECT_API_URL"):
            api.wait(timeout_s=120)
