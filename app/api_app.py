"""The Prefect server app songforge starts (the CLI's local API, `songforge serve`): Prefect's own app, guarded.

A Prefect server on a workstation runs code: a flow run created through its API executes on
the process workers. Prefect's defaults answer any web page the user visits (CORS `*`, no
CSRF token, no Host check), so every server we start gets:

- CORS limited to the server's own origins (`PREFECT_SERVER_CORS_ALLOWED_ORIGINS`), so a page
  elsewhere can neither read an answer nor fetch the CSRF token;
- Prefect's CSRF protection (`PREFECT_SERVER_CSRF_PROTECTION_ENABLED`): a POST, PUT, PATCH or
  DELETE without the token is refused; Prefect's own clients fetch the token by themselves;
- a Host allow-list (Starlette's `TrustedHostMiddleware`): DNS rebinding makes a foreign page
  same-origin with 127.0.0.1, but its requests still name the foreign host;
- websockets refused to a foreign Origin, which CORS does not cover.

Authentication (`PREFECT_SERVER_API_AUTH_STRING`) is Prefect's own, read from the environment.
"""

from __future__ import annotations

import os
import sys

HOSTS_ENV = "SONGFORGE_API_HOSTS"  # the names the server may be reached by, comma-separated
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def server_env(names: list[str] | tuple[str, ...], port: int) -> dict[str, str]:
    """The settings of a guarded server reached at `names` on `port` (to add to its environment)."""
    origins = ",".join(f"http://{name}:{port}" for name in names)
    return {HOSTS_ENV: ",".join(names), "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": origins,
            "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "true"}


class SameOriginWebsockets:
    """ASGI middleware: a websocket handshake whose Origin is not one of `origins` is refused (HTTP 403).

    Python clients (Prefect's workers, events and logs clients) send no Origin and pass.
    """

    def __init__(self, app, origins: list[str]):
        self.app, self.origins = app, set(origins)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and "*" not in self.origins:
            origin = dict(scope["headers"]).get(b"origin")
            if origin is not None and origin.decode("latin-1") not in self.origins:
                from starlette.websockets import WebSocketClose

                await WebSocketClose(code=1008)(scope, receive, send)  # closed before accept: a 403
                return
        await self.app(scope, receive, send)


def build_app():
    """uvicorn's factory: Prefect's `create_app` (API, and the UI where enabled) behind the guards."""
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_SERVER_CORS_ALLOWED_ORIGINS
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    names = [name for name in os.environ.get(HOSTS_ENV, ",".join(LOOPBACK_NAMES)).split(",") if name]
    origins = PREFECT_SERVER_CORS_ALLOWED_ORIGINS.value().split(",")
    return TrustedHostMiddleware(SameOriginWebsockets(create_app(final=True), origins), allowed_hosts=names)


def config(host: str, port: int, log_level: str = "warning"):
    """A uvicorn config serving `build_app` as `prefect server start` serves Prefect's app."""
    import uvicorn
    from prefect.settings import PREFECT_SERVER_API_KEEPALIVE_TIMEOUT

    return uvicorn.Config("app.api_app:build_app", factory=True, host=host, port=port, log_level=log_level,
                          lifespan="on", timeout_keep_alive=PREFECT_SERVER_API_KEEPALIVE_TIMEOUT.value())


if __name__ == "__main__":  # songforge serve's Prefect server: python -m app.api_app HOST PORT
    import uvicorn

    uvicorn.Server(config(sys.argv[1], int(sys.argv[2]), log_level="info")).run()
