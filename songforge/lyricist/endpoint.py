"""An OpenAI-compatible chat client (/v1/chat/completions): llama.cpp's server, Ollama, vLLM, LM Studio, TGI.

Structured output through `response_format` (JSON schema) while the server takes it; a server that refuses it
(400 or 422 naming response_format or json_schema) is asked again in plain text, which the draft reader parses.
Transient failures (connection errors, 429, 5xx) are retried `retries` times; any other answer fails at once, and
so does a reply that is no chat completion (not JSON, a broken or error event, cut at max_tokens): always an
EndpointError naming the URL and the fix. The key is read from the variable `api_key_env` names and goes into the
Authorization header only: never a log line, an error (a server's echo of it is redacted), or the provenance,
which records the URL without credentials and the model name and revision the server reports.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Iterator

import httpx

from ..errors import SongforgeError
from ..lyricist_params import LyricistParams, public_url
from .prompts import Message

log = logging.getLogger(__name__)
TRANSIENT = {429, 500, 502, 503, 504}
_BEARER_RE = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
_WRONG_SERVER = "check that base_url is an OpenAI-compatible server's URL up to /v1"
MAX_WAIT_S = 10.0  # the longest pause between retries, whatever Retry-After asks


class EndpointError(SongforgeError):
    """The server could not be reached, or refused the request: says which URL, what came back and the fix."""

    status: int | None = None  # the HTTP status it answered, where it answered one
    unreachable: bool = False  # nothing answered at base_url (after every retry)


@dataclass(frozen=True)
class Reply:
    text: str
    model: str  # as the server names it in the response


@dataclass
class EndpointChat:
    """Chat with one server and model; `provenance()` says which, as the server reports it."""

    params: LyricistParams
    structured: bool = True  # set False once the server refuses response_format
    requests: int = 0
    answered_by: str | None = None  # the model the last reply names
    _served: dict | None = field(default=None, repr=False)
    _listed: int = field(default=0, repr=False)  # how many models GET /models listed

    def __call__(self, messages: list[Message], schema: dict | None = None) -> Reply:
        body = {"model": self.params.model, "messages": messages, "temperature": self.params.temperature,
                "top_p": self.params.top_p, "max_tokens": self.params.max_tokens, "seed": self.params.seed,
                "stream": self.params.stream}
        if schema is not None and self.structured:
            format_ = {"type": "json_schema", "json_schema": {"name": "song", "schema": schema}}
            try:
                return self._complete({**body, "response_format": format_})
            except EndpointError as error:
                if error.status not in (400, 422) or not _refuses_format(str(error)):
                    raise
                log.info("%s does not take response_format: asking in plain text", self.url)
                self.structured = False
        return self._complete(body)

    @property
    def url(self) -> str:
        return public_url(self.params.base_url)

    def provenance(self) -> dict:
        """The endpoint's URL (no credentials), the model and revision its /models reports (where it does).
        A server listing several models, none of them ours, is recorded as asked (params.model) with the model
        its last reply named (answered_by): never a model picked from the list."""
        served = self.served()
        if served.get("id"):
            model, extra = str(served["id"]), {}
        elif self._listed > 1:
            model, extra = self.params.model, {"answered_by": self.answered_by}
        else:
            model, extra = self.answered_by or self.params.model, {}
        return {"backend": "endpoint", "url": self.url, "model": model,
                "revision": _revision(served), "structured_output": self.structured, **extra}

    def served(self) -> dict:
        """The server's entry for the model in GET /models: the one named params.model (or its ':latest', as
        Ollama names it), else the only one listed; {} where none is, several others are, or there is no /models.
        Ollama lists no digest there: its /api/tags does, asked once (a 404 or anything else: no digest)."""
        if self._served is None:
            try:
                listed = self._json(self._request("GET", "/models"), "/models").get("data") or []
            except EndpointError as error:
                if error.status != 404:
                    raise
                listed = []
            entries = [entry for entry in listed if isinstance(entry, dict)] if isinstance(listed, list) else []
            self._listed = len(entries)
            names = {self.params.model, _latest(self.params.model)}
            ours = [entry for entry in entries if entry.get("id") in names or _latest(str(entry.get("id"))) in names]
            entry = (ours or (entries if len(entries) == 1 else [{}]))[0]
            digest = None if _revision(entry) else self._ollama_digest(str(entry.get("id") or self.params.model))
            self._served = {**entry, "digest": digest} if digest else entry
        return self._served

    def _ollama_digest(self, name: str) -> str | None:
        """The digest Ollama's GET /api/tags gives `name` (the server's root, beside /v1); None for any other
        server (vLLM and llama.cpp answer 404: their models are keyed by name only)."""
        root = self.params.base_url.removesuffix("/v1")
        try:
            with self._client() as client:
                response = client.get(root + "/api/tags")
            models = response.json().get("models") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        names = {name, _latest(name)}
        for entry in models if isinstance(models, list) else []:
            if isinstance(entry, dict) and {entry.get("name"), entry.get("model")} & names and entry.get("digest"):
                return str(entry["digest"])
        return None

    def _complete(self, body: dict) -> Reply:
        self.requests += 1
        reply = self._reply(body)
        self.answered_by = reply.model
        return reply

    def _reply(self, body: dict) -> Reply:
        if not body["stream"]:
            data = self._json(self._request("POST", "/chat/completions", body), "/chat/completions")
            try:
                choice = data["choices"][0]
                text, model = choice["message"].get("content") or "", data.get("model", self.params.model)
            except (KeyError, IndexError, TypeError, AttributeError):
                raise self._bad_reply("/chat/completions", "a reply without choices[0].message", data) from None
            self._finished(choice)
            return Reply(text, str(model))
        with self._client() as client:
            for attempt in range(self.params.retries + 1):
                try:
                    with client.stream("POST", self.params.base_url + "/chat/completions", json=body) as response:
                        self._raise_for(response, attempt, streaming=True)
                        if response.status_code in TRANSIENT:
                            continue
                        return self._joined(self._events(response.iter_lines()))
                except httpx.TransportError as error:
                    self._transport_failed(error, attempt)
        raise AssertionError("unreachable: the last attempt raises")

    def _request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        with self._client() as client:
            for attempt in range(self.params.retries + 1):
                try:
                    response = client.request(method, self.params.base_url + path, json=body)
                except httpx.TransportError as error:
                    self._transport_failed(error, attempt)
                    continue
                self._raise_for(response, attempt)
                if response.status_code not in TRANSIENT:
                    return response
        raise AssertionError("unreachable: the last attempt raises")

    def _client(self) -> httpx.Client:
        key = self.params.api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(headers=headers, timeout=self.params.timeout_s, trust_env=False)

    def _raise_for(self, response: httpx.Response, attempt: int, streaming: bool = False) -> None:
        """Transient status with attempts left: wait (Retry-After, else 0.5 s doubling); other failures raise."""
        status = response.status_code
        if status < 400:
            return
        if status in TRANSIENT and attempt < self.params.retries:
            asked = _retry_after(response)
            wait = min(MAX_WAIT_S, max(0.0, asked if asked is not None else 0.5 * 2 ** attempt))
            log.warning("%s answered %d: retry %d of %d in %.1f s", self.url, status, attempt + 1,
                        self.params.retries, wait)
            time.sleep(wait)
            return
        text = self._redacted((response.read() if streaming else response.content).decode("utf-8", "replace"))[:300]
        fix = ("check base_url, model and the key's variable" if status in (400, 401, 403, 404)
               else "retry later, or raise retries" if status in TRANSIENT
               else "the server refused the request as sent: check model and the settings against its message")
        error = EndpointError(f"{self.url}: HTTP {status}: {text}. Fix: {fix}")
        error.status = status
        raise error

    def _transport_failed(self, error: httpx.TransportError, attempt: int) -> None:
        what = self._redacted(f"{type(error).__name__}: {error}")
        if attempt >= self.params.retries:
            failed = EndpointError(f"{self.url}: {what}. Fix: start the server (e.g. 'llama-server -m model.gguf "
                                   "--port 8080'), or check base_url")
            failed.unreachable = True
            raise failed from None
        log.warning("%s: %s: retry %d of %d", self.url, what, attempt + 1, self.params.retries)
        time.sleep(min(MAX_WAIT_S, 0.5 * 2 ** attempt))

    def _redacted(self, text: str) -> str:
        """`text` (a server's body, an error) with the key's value and any bearer token replaced by ***: a server
        may echo what it was sent, and an error reaches logs and MLflow."""
        key = self.params.api_key()
        if key:
            text = text.replace(key, "***")
        return _BEARER_RE.sub(r"\1***", text)

    def _json(self, response: httpx.Response, path: str) -> dict:
        """A 200 reply's JSON object; EndpointError naming the URL where it is not one (not the server we think)."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._bad_reply(path, "a reply that is not a JSON object", response.text)
        return data

    def _bad_reply(self, path: str, what: str, got: object) -> EndpointError:
        shown = self._redacted(got if isinstance(got, str) else json.dumps(got, default=str))[:200]
        return EndpointError(f"{self.url}{path}: {what} (got {shown!r}). Fix: {_WRONG_SERVER}, or set stream: false "
                             "if its streaming is broken")

    def _events(self, lines: Iterator[str]) -> Iterator[dict]:
        """The JSON of each SSE `data:` line until [DONE]; an error event or a line that is not JSON raises."""
        for line in lines:
            if line.startswith("data:"):
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    event = None
                if not isinstance(event, dict):
                    raise self._bad_reply("/chat/completions", "a stream event that is not a JSON object", data)
                if event.get("error"):
                    message = self._redacted(json.dumps(event["error"], default=str))[:300]
                    raise EndpointError(f"{self.url}/chat/completions: the server failed mid-reply: {message}. Fix: "
                                        "check the server's log; retry, or raise retries if it is transient")
                yield event

    def _joined(self, events: Iterator[dict]) -> Reply:
        parts, model, seen = [], self.params.model, False
        for event in events:
            seen = True
            model = str(event.get("model") or model)
            choices = event.get("choices") or []
            if not isinstance(choices, list):
                raise self._bad_reply("/chat/completions", "a stream event whose choices are not a list", event)
            for choice in choices:
                if not isinstance(choice, dict):
                    raise self._bad_reply("/chat/completions", "a stream event whose choice is not an object", event)
                parts.append(str((choice.get("delta") or {}).get("content") or ""))
                self._finished(choice)
        if not seen:
            raise self._bad_reply("/chat/completions", "a streamed reply with no 'data:' events", "")
        return Reply("".join(parts), model)

    def _finished(self, choice: dict) -> None:
        """A reply cut at max_tokens is no song: say so rather than send a torso to the repair loop."""
        if choice.get("finish_reason") == "length":
            raise EndpointError(f"{self.url}/chat/completions: the reply was cut at max_tokens "
                                f"({self.params.max_tokens}) before the song ended. Fix: raise max_tokens")


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, where it is a finite number (an HTTP date, 'nan' or garbage: None)."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def _refuses_format(message: str) -> bool:
    """A 400 or 422 saying structured output is what it refuses (vLLM answers 422 naming json_schema)."""
    return any(word in message.lower() for word in ("response_format", "json_schema", "guided"))


def _latest(name: str) -> str:
    """Ollama's full name of a model: 'llama3' -> 'llama3:latest' (a name with a tag stays as it is)."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _revision(served: dict) -> str | None:
    """What a server says pins the weights: a revision, a digest (Ollama's), or llama.cpp's model metadata."""
    for key in ("revision", "digest"):
        if served.get(key):
            return str(served[key])
    meta = served.get("meta")
    return json.dumps(meta, sort_keys=True) if isinstance(meta, dict) and meta else None
