"""A small OpenAI-compatible server of the tests' own, on 127.0.0.1: GET /v1/models, POST /v1/chat/completions
(plain JSON, or SSE with `stream: true`), answered by a responder: a function of the request's body giving the
reply's text. Every request is kept (path, headers, body) for the tests to look at.

`statuses`: statuses answered (with an error body) before the responder, one per request, e.g. [503] for a
transient failure. `structured=False`: a server that refuses `response_format` with a 400, as some do;
`models=False`: one without GET /v1/models. `listed`: the models GET /v1/models lists (default: MODEL_ID at
REVISION; a string: sent as it is, not JSON). `tags`: Ollama's GET /api/tags models (None: 404, as other servers).
`error_body` and `error_headers`: what a scripted status is answered with. `raw`: a function of the request's body
giving the bytes of a 200 reply as they are (malformed JSON or SSE). `finish`: the finish_reason of the reply.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

MODEL_ID = "tiny-lyricist"
REVISION = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Server:
    responder: Callable[[dict], str]
    statuses: list[int] = field(default_factory=list)
    structured: bool = True
    models: bool = True  # False: no /v1/models (404), as some servers
    listed: list[dict] | str | None = None
    tags: list[dict] | None = None
    error_body: dict | None = None
    error_headers: dict[str, str] = field(default_factory=dict)
    raw: Callable[[dict], bytes] | None = None
    finish: str = "stop"
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def chats(self) -> list[dict]:
        """The bodies of the chat requests that reached the responder."""
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions") and r["answered"]]


def scripted(*replies: str) -> Callable[[dict], str]:
    """A responder giving `replies` in order (the last one again after)."""
    calls = []

    def respond(body: dict) -> str:
        calls.append(body)
        return replies[min(len(calls), len(replies)) - 1]
    return respond


def serve(server: Server):
    """Start the server on a free port (server.url is its /v1 base); a context manager stopping it."""
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": None, "answered": True})
            if self.path.endswith("/api/tags") and server.tags is not None:
                return self._json(200, {"models": server.tags})
            if not server.models or not self.path.endswith("/models"):
                return self._json(404, {"error": {"message": "not found"}})
            if isinstance(server.listed, str):
                return self._raw(server.listed.encode())
            listed = server.listed if server.listed is not None else [
                {"id": MODEL_ID, "object": "model", "revision": REVISION}]
            self._json(200, {"object": "list", "data": listed})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            record = {"path": self.path, "headers": dict(self.headers), "body": body, "answered": False}
            server.requests.append(record)
            if server.statuses:
                failure = server.error_body or {"error": {"message": "scripted failure"}}
                return self._json(server.statuses.pop(0), failure, server.error_headers)
            if "response_format" in body and not server.structured:
                return self._json(400, {"error": {"message": "response_format is not supported"}})
            record["answered"] = True
            if server.raw is not None:
                return self._raw(server.raw(body))
            text = server.responder(body)
            if not body.get("stream"):
                return self._json(200, {"id": "x", "object": "chat.completion", "model": MODEL_ID, "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": server.finish}]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for start in range(0, max(1, len(text)), 7):  # a few characters an event, as servers stream tokens
                chunk = {"model": MODEL_ID, "choices": [{"index": 0, "delta": {"content": text[start:start + 7]}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            last = {"model": MODEL_ID, "choices": [{"index": 0, "delta": {}, "finish_reason": server.finish}]}
            self.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _raw(self, payload: bytes):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, data: dict, headers: dict[str, str] | None = None):
            payload = json.dumps(data).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Quiet(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a client that gave up
                super().handle_error(request, client_address)

    class Running:
        def __enter__(self):
            self.httpd = Quiet(("127.0.0.1", 0), Handler)
            server.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
            return server

        def __exit__(self, *exc):
            self.httpd.shutdown()
            self.httpd.server_close()
    return Running()
