"""Test set-up: a private PREFECT_HOME, one real Prefect API per session, shared paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
_HOME = Path(tempfile.mkdtemp(prefix="songforge-test-prefect-"))


def pytest_configure(config):
    # Before anything imports prefect: results, the database and logs go to a temp home.
    os.environ["PREFECT_HOME"] = str(_HOME)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # CLI runs in tests stop their local Prefect API when they end, rather than leave it for the next command.
    os.environ["SONGFORGE_LOCAL_API_IDLE_S"] = "0"
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """A real ephemeral Prefect API for the whole session; yields its URL for subprocesses."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "yue" / "data").is_dir():
        pytest.skip(f"needs the project's shared data at {SHARED} (absent on this machine)")
    return SHARED


@pytest.fixture(scope="module")
def vectors() -> dict:
    """Token ids computed with YuE's official tokenizer (shared/yue/data)."""
    import json

    data = SHARED / "yue" / "data"
    if not data.is_dir():
        pytest.skip(f"needs the project's shared data at {data}")
    return json.loads((data / "yue_tokenization_vectors.json").read_text())
