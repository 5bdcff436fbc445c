"""LyricistParams: which model drafts the words and with what settings, each field defined once.

The API key is never a field: `api_key_env` names the environment variable that holds it, so a params
file, a cache key and a lineage manifest can carry the whole model without ever carrying the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ParamsError
from .params_file import read_yaml_file
from .problems import validation_problems

LYRICIST_FILE = Path("params/lyricist.yaml")  # read by `songforge write` where it exists
DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"  # llama.cpp's llama-server; Ollama: http://127.0.0.1:11434/v1

LYRICIST_FIXES = {
    "backend": "use 'endpoint' (an OpenAI-compatible server) or 'transformers' (in process)",
    "base_url": "give the server's URL up to /v1, e.g. http://127.0.0.1:8080/v1, with no user, password, query "
                "or fragment in it (the URL is never quoted back: it may hold a key)",
    "model": "name the model as the server lists it (GET /v1/models), or a hub id / local folder for transformers",
    "api_key_env": "name an environment variable holding the key, in capitals (e.g. OPENAI_API_KEY), never the key",
}


class LyricistParams(BaseModel):
    """The lyricist's backend, model and generation settings (album `lyricist:`, or params/lyricist.yaml).
    (Frozen, unknown keys refused: as songforge.params' models, which read this one.)"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["endpoint", "transformers"] = "endpoint"
    base_url: str = Field(DEFAULT_BASE_URL, description="the OpenAI-compatible server, up to /v1")
    model: str = Field("default", min_length=1, max_length=200, description="model name, hub id or local folder")
    api_key_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$",
                                    description="the NAME of the environment variable holding the API key")
    revision: str | None = Field(None, max_length=100, description="the model's pinned revision (transformers)")
    temperature: float = Field(0.8, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(1500, ge=64, le=16384)
    seed: int = Field(0, ge=0, description="passed where the backend honours it; the cache keeps a rerun the same")
    max_rounds: int = Field(3, ge=1, le=10, description="drafts asked before the rules' problems are reported")
    timeout_s: float = Field(120.0, gt=0, le=3600)
    retries: int = Field(2, ge=0, le=10, description="retries of a transient failure (connection, 429, 5xx)")
    stream: bool = Field(True, description="read the reply as it is written (SSE): timeout_s bounds each wait, "
                         "not the whole reply")

    @field_validator("base_url")
    @classmethod
    def _plain_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("is not an http(s) URL")
        if parts.username or parts.password:
            raise ValueError("holds credentials: the key goes in the variable named by api_key_env")
        if parts.query or parts.fragment or url.rstrip("/").endswith(("?", "#")):
            raise ValueError("has a query string or fragment (it would be recorded in lineage and flow "
                             "parameters): a key goes in the variable named by api_key_env")
        return url.rstrip("/")

    def api_key(self) -> str | None:
        """The key, read from the environment at call time (never stored on the params)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def settings(self) -> dict:
        """The generation settings a result depends on (cache key and provenance)."""
        return self.model_dump(include={"temperature", "top_p", "max_tokens", "seed", "max_rounds"})


    def identity(self) -> dict:
        """What a draft depends on (the cache key): the backend, its public URL (an endpoint's), the model, its
        revision and the generation settings with the seed; never the key's variable, timeouts, retries or
        streaming, which change how the words arrive, not which."""
        url = {"url": public_url(self.base_url)} if self.backend == "endpoint" else {}
        return {"backend": self.backend, **url, "model": self.model, "revision": self.revision, **self.settings()}


def public_url(url: str) -> str:
    """A URL with any user, password, query and fragment removed: what provenance may record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def lyricist_params(raw: Any, source: str | None = None, prefix: str = "") -> LyricistParams:
    """`raw` (a mapping) validated; ParamsError naming every bad field (under `prefix`) and its fix otherwise."""
    try:
        return LyricistParams.model_validate(raw if raw is not None else {})
    except ValidationError as error:
        raise ParamsError.all_of(validation_problems(error, LYRICIST_FIXES, source, prefix)) from None


def load_lyricist(path: Path | None, overrides: dict[str, Any]) -> LyricistParams:
    """The lyricist's params: the file (LYRICIST_FILE where it exists and no other is named), then `overrides`
    (command-line flags that are set) on top, all checked at once."""
    if path is None and LYRICIST_FILE.is_file():
        path = LYRICIST_FILE
    raw = read_yaml_file(path, "lyricist params", "'backend:' and 'model:'", empty_ok=True) if path else {}
    raw = raw.get("lyricist", raw) if isinstance(raw.get("lyricist"), dict) else raw
    return lyricist_params({**raw, **{k: v for k, v in overrides.items() if v is not None}},
                           str(path) if path else "(command line)")
