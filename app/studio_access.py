"""Who may reach `songforge serve`: the names its servers answer to, the origins of its UIs, the auth a LAN needs.

On 127.0.0.1 (the default) only this machine reaches the studio, and the guards of
app/api_app.py and MLflow's own keep web pages out. Any other address opens it to a
network, where the workers would run whatever flow anyone asks for: there the studio
starts only with Prefect's auth string and MLflow's basic-auth app. Auth settings found in
the environment are used on loopback too, and handed to the studio's own clients.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Mapping, Sequence

from songforge.errors import SongforgeError

from .api_app import LOOPBACK_NAMES, server_env

PREFECT_AUTH = "PREFECT_SERVER_API_AUTH_STRING"  # the server's; clients send PREFECT_API_AUTH_STRING
MLFLOW_ADMIN_PASSWORD = "MLFLOW_AUTH_ADMIN_PASSWORD"  # the basic-auth app's admin, made on its first start
WILDCARDS = ("0.0.0.0", "::")


@dataclass(frozen=True)
class Access:
    host: str  # the address both servers listen on
    names: tuple[str, ...]  # the Host names they answer to
    prefect_auth: str | None
    mlflow_auth: bool

    @property
    def local_host(self) -> str:
        """The address this machine's own clients (workers, setup) use."""
        return "127.0.0.1" if self.host in WILDCARDS else self.host

    def origins(self, port: int) -> list[str]:
        return [f"http://{name}:{port}" for name in self.names]

    def prefect_env(self, port: int) -> dict[str, str]:
        """The Prefect server's settings: Host names, CORS to its own UI, CSRF (auth comes from the environment)."""
        return server_env(self.names, port)

    def mlflow_args(self, port: int) -> list[str]:
        """`mlflow server` options: the Host names and UI origins it accepts, and basic-auth where on."""
        args = ["--allowed-hosts", ",".join(f"{name}:{port}" for name in self.names),
                "--cors-allowed-origins", ",".join(self.origins(port))]
        return args + (["--app-name", "basic-auth"] if self.mlflow_auth else [])

    def client_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """What the studio's own clients need to pass the auth (the user's own client settings win)."""
        env = {}
        if self.prefect_auth:
            env["PREFECT_API_AUTH_STRING"] = environ.get("PREFECT_API_AUTH_STRING", self.prefect_auth)
        if self.mlflow_auth:
            env["MLFLOW_TRACKING_USERNAME"] = environ.get(
                "MLFLOW_TRACKING_USERNAME", environ.get("MLFLOW_AUTH_ADMIN_USERNAME", "admin"))
            env["MLFLOW_TRACKING_PASSWORD"] = environ.get("MLFLOW_TRACKING_PASSWORD", environ[MLFLOW_ADMIN_PASSWORD])
        return env

    def mlflow_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The basic-auth app signs its forms with a secret key: the user's, or one per start (one process)."""
        if not self.mlflow_auth:
            return {}
        return {"MLFLOW_FLASK_SERVER_SECRET_KEY": environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(32))}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def access_for(host: str, extra_names: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> Access:
    """The studio's access on `host`; refuses a non-loopback host without both auth settings."""
    prefect_auth, mlflow_password = environ.get(PREFECT_AUTH) or None, environ.get(MLFLOW_ADMIN_PASSWORD) or None
    lan = not is_loopback(host)
    if lan and not (prefect_auth and mlflow_password):
        missing = " and ".join(name for name, value in ((PREFECT_AUTH, prefect_auth),
                                                        (MLFLOW_ADMIN_PASSWORD, mlflow_password)) if not value)
        raise SongforgeError(
            f"songforge serve --host {host} would open the studio to the network, where anyone who reaches it "
            f"could run code on this machine through its workers; {missing} not set. Fix: export "
            f"{PREFECT_AUTH}=<user>:<password> (Prefect's API; clients send it as PREFECT_API_AUTH_STRING) and "
            f"{MLFLOW_ADMIN_PASSWORD}=<password> (MLflow's basic-auth admin; clients send MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD), or leave --host out to serve on 127.0.0.1 only.")
    names = [*LOOPBACK_NAMES, *([] if host in WILDCARDS else [host])]
    if lan:
        names += [socket.gethostname(), socket.getfqdn()]
    names += [name.strip() for name in extra_names if name.strip()]
    return Access(host, tuple(dict.fromkeys(names)), prefect_auth, bool(mlflow_password))
