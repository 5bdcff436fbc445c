"""What a server may answer that is no song: each an EndpointError naming the URL and the fix, never a raw
JSONDecodeError, a partial text or a key. Every test runs the tests' own OpenAI-compatible server on 127.0.0.1
(tests/openai_server.py) with a scripted responder, or raw bytes where the reply is malformed on purpose."""

from __future__ import annotations

import logging

import pytest
from lyricist_songs import GOOD, reply
from openai_server import MODEL_ID, Server, scripted, serve

from songforge.lyricist.endpoint import EndpointChat, EndpointError
from songforge.lyricist.repair import draft_song
from songforge.lyricist_params import LyricistParams

KEY = "sk-echoed-9f8e7d6c5b4a"
ASK = [{"role": "user", "content": "a song"}]


def chat(server: Server, **changes) -> EndpointChat:
    return EndpointChat(LyricistParams(**{"base_url": server.url, "model": MODEL_ID, "retries": 0, **changes}))


def test_a_key_the_server_echoes_is_redacted_from_the_error_and_the_log(monkeypatch, caplog):
    # responder: none reached; the server answers 401 with a body echoing the key and the header, then a 503 whose
    # retry is logged
    monkeypatch.setenv("LYRICIST_ECHO_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"invalid api key {KEY} (Authorization: Bearer {KEY})"}}
    with serve(Server(scripted(reply(GOOD)), statuses=[401], error_body=echo)) as server:
        with pytest.raises(EndpointError) as raised:
            chat(server, api_key_env="LYRICIST_ECHO_KEY")(ASK)
    text = str(raised.value)
    assert "HTTP 401" in text and "invalid api key ***" in text and "Bearer ***" in text
    assert KEY not in text and KEY not in caplog.text


@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_that_is_not_json_is_an_endpoint_error(stream):
    # raw bytes: an HTML page with status 200 (a proxy's, say), streamed or not
    with serve(Server(scripted(""), raw=lambda body: b"<html>proxy login</html>")) as server:
        with pytest.raises(EndpointError, match="OpenAI-compatible") as raised:
            chat(server, stream=stream)(ASK)
    assert server.url in str(raised.value)


def test_a_malformed_sse_line_is_an_endpoint_error():
    # raw bytes: one good event, then a data: line cut in half
    good = b'data: {"model": "m", "choices": [{"delta": {"content": "[verse]"}}]}\n\n'
    with serve(Server(scripted(""), raw=lambda body: good + b'data: {"choices": [{"del\n\ndata: [DONE]\n\n')) as server:
        with pytest.raises(EndpointError, match="not a JSON object") as raised:
            chat(server)(ASK)
    assert "/chat/completions" in str(raised.value) and "stream: false" in str(raised.value)


def test_an_error_event_mid_stream_is_an_endpoint_error_not_a_partial_song():
    # raw bytes: some of a song, then the server's error event (as vLLM and llama.cpp send one)
    part = b'data: {"model": "m", "choices": [{"delta": {"content": "[verse]\\nhalf a"}}]}\n\n'
    failed = b'data: {"error": {"message": "CUDA out of memory"}}\n\n'
    with serve(Server(scripted(""), raw=lambda body: part + failed)) as server:
        with pytest.raises(EndpointError, match="failed mid-reply.*CUDA out of memory"):
            chat(server)(ASK)


def test_models_that_are_not_json_are_an_endpoint_error():
    # GET /v1/models answers an HTML page with status 200
    with serve(Server(scripted(reply(GOOD)), listed="<html>not an API</html>")) as server:
        with pytest.raises(EndpointError, match="/models: a reply that is not a JSON object"):
            chat(server).provenance()


@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_cut_at_max_tokens_says_raise_max_tokens(stream):
    # responder: scripted, the good song, but the server says it stopped at the token limit
    with serve(Server(scripted(reply(GOOD)), finish="length")) as server:
        with pytest.raises(EndpointError, match=r"cut at max_tokens \(1500\).*Fix: raise max_tokens"):
            draft_song(chat(server, stream=stream), "x", "en", max_rounds=2)
    assert len(server.chats()) == 1


def test_a_negative_retry_after_is_clamped_and_the_request_retried():
    # responder: scripted, the good song, after one 503 whose Retry-After is negative
    with serve(Server(scripted(reply(GOOD)), statuses=[503], error_headers={"Retry-After": "-5"})) as server:
        text = chat(server, retries=1)(ASK).text
    assert text == reply(GOOD) and len([r for r in server.requests if r["body"]]) == 2


def test_a_422_refusing_response_format_is_asked_again_in_plain_text():
    # responder: scripted, the good song; the first request (with response_format) is refused with a 422, as vLLM
    refused = {"error": {"message": "json_schema is not supported by this model"}}
    with serve(Server(scripted(reply(GOOD)), statuses=[422], error_body=refused)) as server:
        endpoint = chat(server)
        drafted = draft_song(endpoint, "x", "en", max_rounds=1)
    bodies = [r["body"] for r in server.requests if r["body"]]
    assert ["response_format" in b for b in bodies] == [True, False]
    assert drafted.provenance["structured_output"] is False


@pytest.mark.parametrize("status,fix", [(409, "refused the request as sent"), (413, "refused the request as sent"),
                                        (401, "check base_url, model"), (503, "retry later")])
def test_only_a_transient_failure_says_retry_later(status, fix):
    # responder: none reached; the server answers `status`
    with serve(Server(scripted(reply(GOOD)), statuses=[status])) as server:
        with pytest.raises(EndpointError) as raised:
            chat(server)(ASK)
    assert f"HTTP {status}" in str(raised.value) and fix in str(raised.value)
    assert ("retry later" in str(raised.value)) is (status == 503)
