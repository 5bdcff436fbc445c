"""Probes of a local server's browser-facing guards, as a hostile web page would try them (real HTTP).

Shared by the CLI's local API tests and the `songforge serve` test: a foreign Origin (CORS), a
foreign Host (DNS rebinding), a state-changing request without Prefect's CSRF token, a websocket
from a foreign page; and the same servers' own clients still working.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

EVIL = "https://evil.example"


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None,
            body: dict | None = None) -> tuple[int, dict[str, str], str]:
    """(status, lower-cased headers, text) of one request; an HTTP error status is an answer, not a failure."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def rebound_host(url: str) -> str:
    """The Host header a DNS-rebound page sends: its own name, with the server's port."""
    return f"evil.example:{urlsplit(url).port}"


def assert_prefect_guarded(api: str) -> None:
    """A Prefect API (`http://127.0.0.1:PORT/api`) refuses a foreign page and checks CSRF tokens."""
    status, headers, _ = request(f"{api}/health", headers={"Origin": EVIL})
    assert status == 200 and headers.get("access-control-allow-origin") not in (EVIL, "*"), headers
    status, headers, _ = request(f"{api}/flows/filter", "OPTIONS",  # the browser's preflight of a POST
                                 headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert headers.get("access-control-allow-origin") not in (EVIL, "*"), (status, headers)
    status, _, text = request(f"{api}/flows/", "POST", {"Origin": EVIL}, {"name": "from-a-web-page"})
    assert status == 403 and "CSRF" in text, (status, text)

    status, _, text = request(f"{api}/health", headers={"Host": rebound_host(api)})
    assert status == 400, (status, text)  # DNS rebinding: same origin for the browser, foreign Host for us

    status, _, text = request(f"{api}/csrf-token?client=probe")
    assert status == 200, (status, text)  # 422 "CSRF protection is disabled" when it is off
    token = {"Prefect-Csrf-Token": json.loads(text)["token"], "Prefect-Csrf-Client": "probe"}
    status, _, text = request(f"{api}/flows/", "POST", body={"name": "no-token"})
    assert status == 403 and "Missing CSRF token" in text, (status, text)
    status, _, text = request(f"{api}/flows/", "POST", token, {"name": "with-token"})
    assert status in (200, 201), (status, text)

    assert_websocket_refused(api.replace("http://", "ws://") + "/events/out")


def assert_websocket_refused(url: str) -> None:
    """A websocket from a foreign page is refused; one without an Origin (Prefect's own clients) opens."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        connect(url, origin=EVIL, proxy=None, open_timeout=30).close()
    except InvalidStatus as error:
        assert error.response.status_code == 403, error
    else:
        raise AssertionError(f"{url} accepted a websocket from {EVIL}")
    connect(url, proxy=None, open_timeout=30).close()


def assert_prefect_client_works(api: str) -> None:
    """Prefect's own client (which fetches the CSRF token by itself) writes and reads."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api) as client:
        flow_id = client.create_flow_from_name("written-by-our-client")
        assert client.read_flow(flow_id).name == "written-by-our-client"


def assert_mlflow_guarded(url: str) -> None:
    """An MLflow server refuses a foreign page's Origin and Host; MLflow's own client works."""
    from mlflow.tracking import MlflowClient

    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    status, headers, _ = request(search, headers={"Origin": EVIL})
    assert status == 200 and headers.get("access-control-allow-origin") not in (EVIL, "*"), headers
    status, _, text = request(f"{url}/api/2.0/mlflow/experiments/create", "POST", {"Origin": EVIL},
                              {"name": "from-a-web-page"})
    assert status == 403, (status, text)
    status, _, text = request(search, headers={"Host": rebound_host(url)})
    assert status == 403, (status, text)
    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment("written-by-our-client")
    assert client.get_experiment(experiment_id).name == "written-by-our-client"
