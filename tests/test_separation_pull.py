"""`songforge models pull` of separator models: audio-separator's own download (its model list, the weights, the YAML)
into the model's folder, every file recorded, the default's weights checked against their pinned sha256; then the
model loads with the network refused. UVR's hosts cannot be reached from here: a real HTTP server on 127.0.0.1
serves the same paths, and requests to github.com / raw.githubusercontent.com are sent to it (the only stand-in)."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from separation_fixtures import sketch_mix
from typer.testing import CliRunner

from songforge.errors import EngineError
from songforge.models import read_manifest
from songforge.separation.models import DEFAULT_FILE, DEFAULT_MODEL, DEFAULT_SHA256, MODEL_LIST, write_own_list
from songforge.separation.tiny import CHECKPOINT, CONFIG, write_tiny_roformer

RELEASES = "github.com/TRvlvr/model_repo/releases/download/all_public_uvr_models"
CONFIGS = "github.com/nomadkaraoke/python-audio-separator/releases/download/model-configs"  # audio-separator's own
LIST = "raw.githubusercontent.com/TRvlvr/application_data/main/filelists/download_checks.json"


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def uvr_hosts(tmp_path, monkeypatch) -> Path:
    """The web root: UVR's list naming 'listed.ckpt' and the default, their weights and configs."""
    import requests

    made, root = write_tiny_roformer(tmp_path / "made"), tmp_path / "web"
    write_own_list(made, "listed.ckpt", "listed.yaml")
    checks = json.loads((made / MODEL_LIST).read_text())
    checks["roformer_download_list"]["Roformer Model: BS-Roformer-Viperx-1297"] = {
        DEFAULT_FILE: "model_bs_roformer_ep_317_sdr_12.9755.yaml"}
    for path, data in {LIST: json.dumps(checks).encode(), f"{RELEASES}/listed.ckpt": (made / CHECKPOINT).read_bytes(),
                       f"{CONFIGS}/listed.yaml": (made / CONFIG).read_bytes(),
                       f"{RELEASES}/{DEFAULT_FILE}": b"not viperx's weights",
                       f"{CONFIGS}/model_bs_roformer_ep_317_sdr_12.9755.yaml": (made / CONFIG).read_bytes()}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = requests.sessions.Session.request

    def to_local(self, method, url, *args, **kwargs):
        for host in ("https://github.com/", "https://raw.githubusercontent.com/"):
            if url.startswith(host):
                url = f"http://127.0.0.1:{server.server_port}/{host[8:]}{url[len(host):]}"
        assert url.startswith("http://127.0.0.1"), f"a request to {url}"
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.sessions.Session, "request", to_local)
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    yield root
    server.shutdown()


def test_a_listed_name_is_pulled_the_way_audio_separator_downloads_it_and_then_loads_offline(
        uvr_hosts, tmp_path, monkeypatch):
    import requests

    from app.cli import app
    from songforge.separation.separator import loaded, separate

    folder = tmp_path / "models" / "listed.ckpt"
    folder.mkdir(parents=True)
    (folder / "listed.ckpt").write_bytes(b"what an interrupted pull left")  # audio-separator would keep it
    result = CliRunner().invoke(app, ["models", "pull", "listed.ckpt"])
    assert result.exit_code == 0, result.output
    weights = (uvr_hosts / RELEASES / "listed.ckpt").read_bytes()
    assert (folder / "listed.ckpt").read_bytes() == weights
    manifest = read_manifest(folder)
    assert set(manifest["files"]) == {"listed.ckpt", "listed.yaml", MODEL_LIST}
    assert manifest["revision"] == hashlib.sha256(weights).hexdigest() and manifest["name"] == "listed.ckpt"

    monkeypatch.setattr(requests.sessions.Session, "request", lambda *a, **k: pytest.fail("a download at load"))
    _, mix, rate = sketch_mix(tmp_path, duration_s=12)
    with loaded("listed.ckpt") as model:
        stems = separate(model, mix, rate)
    assert stems["vocals"].shape == mix.shape


def test_the_default_is_refused_when_its_download_is_not_the_pinned_weights(uvr_hosts, tmp_path):
    from songforge.catalogue import pull

    with pytest.raises(EngineError, match=f"not the {DEFAULT_SHA256} songforge pins"):
        pull(DEFAULT_MODEL)
    folder = tmp_path / "models" / DEFAULT_MODEL
    assert not (folder / DEFAULT_FILE).exists() and read_manifest(folder) is None


def test_a_name_audio_separator_does_not_list_fails_with_the_fix(uvr_hosts):
    from songforge.catalogue import pull

    with pytest.raises(EngineError, match="not found in supported model files.*songforge models pull nowhere.ckpt"):
        pull("nowhere.ckpt")


def test_models_list_shows_the_default_separator_and_its_licence():
    from app.cli import app

    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith(DEFAULT_MODEL))
    assert DEFAULT_SHA256[:12] in line and f" {DEFAULT_MODEL} " in line  # its pin and its licence id
    assert "commercial: unknown" in line  # no licence is stated upstream
    step = next(line for line in result.output.splitlines() if line.strip().startswith("separate "))
    assert "the model the song names" in step
