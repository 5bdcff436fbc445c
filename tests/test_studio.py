"""`songforge serve` beyond loopback: refused without auth; with the auth settings, its own clients get in, others don't.

The default studio (127.0.0.1, no auth) is tested in tests/test_multihost.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from http_probe import request
from test_multihost import free_port, wait_until

from app.studio_access import access_for

ROOT = Path(__file__).resolve().parents[1]
AUTH = {"PREFECT_SERVER_API_AUTH_STRING": "studio:prefect-secret-1", "MLFLOW_AUTH_ADMIN_PASSWORD": "mlflow-Secret-pass-1"}
CLIENT_AUTH = ("PREFECT_API_AUTH_STRING", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "SONGFORGE_HOST": "studio-box", "SONGFORGE_GPU_SLOTS": "1", **extra}
    for name in ("PREFECT_API_URL", *CLIENT_AUTH, *AUTH.keys() - extra.keys()):
        env.pop(name, None)
    return env


@pytest.mark.parametrize("given", [{}, {"PREFECT_SERVER_API_AUTH_STRING": "a:b"}])
def test_serve_on_the_network_without_auth_refuses_and_names_the_settings(tmp_path, given):
    port, mlflow_port = free_port(), free_port()
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", str(port),
                           "--mlflow-port", str(mlflow_port), "--no-deploy"], cwd=tmp_path,
                          env=serve_env(tmp_path, **given), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    message = " ".join((done.stdout + done.stderr).split())
    assert "--host 0.0.0.0" in message and "MLFLOW_AUTH_ADMIN_PASSWORD not set" in message, message
    assert ("PREFECT_SERVER_API_AUTH_STRING and" in message) == (not given), message
    assert "Fix: export PREFECT_SERVER_API_AUTH_STRING=" in message and "leave --host out" in message
    assert not (tmp_path / ".songforge").exists()  # refused before anything started


def test_a_lan_studio_answers_to_its_names_with_auth_on():
    access = access_for("0.0.0.0", ["studio.lan"], environ=AUTH)
    assert {"127.0.0.1", "localhost", socket.gethostname(), "studio.lan"} <= set(access.names)
    assert "0.0.0.0" not in access.names and access.local_host == "127.0.0.1"
    assert "http://studio.lan:4200" in access.prefect_env(4200)["PREFECT_SERVER_CORS_ALLOWED_ORIGINS"].split(",")
    args = access.mlflow_args(5000)
    assert args[args.index("--app-name") + 1] == "basic-auth"
    assert "studio.lan:5000" in args[args.index("--allowed-hosts") + 1].split(",")
    assert access.client_env(AUTH) == {"PREFECT_API_AUTH_STRING": AUTH["PREFECT_SERVER_API_AUTH_STRING"],
                                       "MLFLOW_TRACKING_USERNAME": "admin",
                                       "MLFLOW_TRACKING_PASSWORD": AUTH["MLFLOW_AUTH_ADMIN_PASSWORD"]}
    assert access.mlflow_env(AUTH)["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    assert access_for("127.0.0.1", environ={}).mlflow_args(5000)[-2:] != ["--app-name", "basic-auth"]


@pytest.mark.slow
def test_a_studio_with_the_auth_settings_lets_in_its_own_clients_only(tmp_path, monkeypatch):
    """The LAN set-up, on loopback: Prefect's auth string and MLflow's basic-auth app, its workers logged in."""
    from mlflow.tracking import MlflowClient
    from prefect.client.orchestration import SyncPrefectClient

    port, mlflow_port = free_port(), free_port()
    api, mlflow = f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{mlflow_port}"
    serve = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--mlflow-port",
                              str(mlflow_port), "--no-deploy"], cwd=tmp_path, env=serve_env(tmp_path, **AUTH),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        for line in serve.stdout:
            lines.append(line)
            if line.startswith("ready"):
                break
        assert lines and lines[-1].startswith("ready"), "".join(lines)
        assert request(f"{api}/version")[0] == 401  # no auth string
        assert request(f"{mlflow}/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
        # The workers got in: they registered with the server.
        with SyncPrefectClient(api, auth_string=AUTH["PREFECT_SERVER_API_AUTH_STRING"]) as client:
            workers = wait_until(lambda: client.read_workers_for_work_pool("gpu"), 120, "the gpu worker")
            assert workers[0].name == "studio-box-gpu"
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", AUTH["MLFLOW_AUTH_ADMIN_PASSWORD"])
        client = MlflowClient(tracking_uri=mlflow)
        assert client.get_experiment(client.create_experiment("logged-in")).name == "logged-in"
    finally:
        serve.send_signal(signal.SIGINT)
        rest, _ = serve.communicate(timeout=120)
    assert serve.returncode == 0, "".join(lines) + rest
