"""The lyricist against a real OpenAI-compatible HTTP server on 127.0.0.1 (tests/openai_server.py): the repair
loop, structured and plain replies, streaming, retries of transient failures only, and the key kept out of
provenance and logs. Each test says which responder backs the server."""

from __future__ import annotations

import json
import logging

import pytest
from lyricist_songs import BAD, GOOD, reply
from openai_server import MODEL_ID, REVISION, Server, scripted, serve

from songforge.lyricist.endpoint import EndpointChat, EndpointError
from songforge.lyricist_params import LyricistParams
from songforge.lyricist.repair import LyricsRejected, draft_song


def params(url: str, **changes) -> LyricistParams:
    return LyricistParams(base_url=url, model=MODEL_ID, **changes)


def test_a_draft_that_breaks_rules_is_sent_back_with_its_problems_and_fixed_in_round_two():
    # responder: scripted, first answer breaks three rules, the second keeps them all
    with serve(Server(scripted(reply(BAD), reply(GOOD)))) as server:
        chat = EndpointChat(params(server.url, stream=False))
        drafted = draft_song(chat, "leaving a harbour town", "en", max_rounds=3)
    assert drafted.rounds == 2 and drafted.draft.title == GOOD["title"]
    first, second = server.chats()
    assert first["response_format"]["json_schema"]["schema"]["properties"]["lyrics"]
    sent_back = second["messages"][-1]["content"]
    assert second["messages"][-2] == {"role": "assistant", "content": reply(BAD)}
    for expected in ("section 1 [verse] line 1: line_syllables", "song: chorus_repeats", "genre[0]: tag_vocabulary"):
        assert expected in sent_back
    assert "harbour" in first["messages"][-1]["content"] and first["seed"] == 0
    assert drafted.provenance == {"backend": "endpoint", "url": server.url, "model": MODEL_ID, "revision": REVISION,
                                  "structured_output": True, "rounds": 2}


def test_what_still_breaks_after_the_last_round_is_an_error_naming_rule_and_section():
    # responder: scripted, always the broken song
    with serve(Server(scripted(reply(BAD)))) as server:
        with pytest.raises(LyricsRejected) as raised:
            draft_song(EndpointChat(params(server.url)), "leaving a harbour town", "en", max_rounds=2)
    assert len(server.chats()) == 2
    text = str(raised.value)
    assert "after 2 round(s)" in text and "section 1 [verse] line 1: line_syllables" in text
    assert {"line_syllables", "chorus_repeats", "tag_vocabulary"} <= {p.rule for p in raised.value.problems}


def test_a_server_without_structured_output_is_asked_in_plain_text_and_the_text_is_parsed():
    # responder: scripted, a plain-text song (fields, then tagged lyrics); the server refuses response_format and
    # has no /v1/models: the model is the one its replies name
    plain = (f"Title: {GOOD['title']}\nGenre: folk\nMood: melancholic\nInstrument: acoustic guitar\nVoice: female\n"
             f"BPM: 96\nKey: D major\n\n{GOOD['lyrics']}")
    with serve(Server(scripted(plain), structured=False, models=False)) as server:
        chat = EndpointChat(LyricistParams(base_url=server.url, model="whatever-the-server-serves"))
        drafted = draft_song(chat, "a harbour song", "en", max_rounds=1)
    assert drafted.draft.lyrics.startswith("[verse]") and drafted.draft.bpm == 96 and drafted.draft.genre == ["folk"]
    assert [("response_format" in r["body"], r["answered"]) for r in server.requests if r["body"]] == [
        (True, False), (False, True)]
    assert drafted.provenance["structured_output"] is False
    assert drafted.provenance["model"] == MODEL_ID and drafted.provenance["revision"] is None


def test_a_transient_503_is_retried_and_a_400_is_not():
    # responder: scripted, the good song; statuses answered first: 503 (retried), then in a second server 400
    with serve(Server(scripted(reply(GOOD)), statuses=[503])) as server:
        drafted = draft_song(EndpointChat(params(server.url, retries=2)), "x", "en", max_rounds=1)
    assert drafted.rounds == 1 and len([r for r in server.requests if r["body"]]) == 2
    with serve(Server(scripted(reply(GOOD)), statuses=[400, 400])) as server:
        with pytest.raises(EndpointError, match="HTTP 400"):
            draft_song(EndpointChat(params(server.url, retries=2)), "x", "en", max_rounds=1)
    assert len([r for r in server.requests if r["body"]]) == 1
    with serve(Server(scripted(reply(GOOD)), statuses=[503, 503, 503])) as server:
        with pytest.raises(EndpointError, match="HTTP 503"):
            draft_song(EndpointChat(params(server.url, retries=1)), "x", "en", max_rounds=1)
    assert len([r for r in server.requests if r["body"]]) == 2  # one try and one retry


def test_an_unreachable_server_says_how_to_start_one():
    # no responder: nothing listens on the port
    with serve(Server(scripted(""))) as server:
        url = server.url
    with pytest.raises(EndpointError, match="llama-server"):
        EndpointChat(params(url, retries=0))([{"role": "user", "content": "x"}])


def test_the_api_key_goes_in_the_header_only(monkeypatch, caplog):
    # responder: scripted, the broken song then the good one (a repair round is logged); one 503 retried
    key = "sk-test-3f9a8b7c6d5e4f"
    monkeypatch.setenv("LYRICIST_TEST_KEY", key)
    caplog.set_level(logging.DEBUG)
    with serve(Server(scripted(reply(BAD), reply(GOOD)), statuses=[503])) as server:
        chat = EndpointChat(params(server.url, api_key_env="LYRICIST_TEST_KEY"))
        drafted = draft_song(chat, "x", "en", max_rounds=2)
    assert all(r["headers"].get("Authorization") == f"Bearer {key}" for r in server.requests)
    assert key not in json.dumps(drafted.provenance) and key not in caplog.text and "503" in caplog.text
    assert key not in chat.params.model_dump_json() and key not in repr(chat)
    with pytest.raises(ValueError, match="credentials"):
        LyricistParams(base_url=f"http://user:{key}@127.0.0.1:1/v1")


@pytest.mark.parametrize("language,word", [("it", "Scrivi"), ("zh", "请写"), ("ja", "書いて"),
                                           ("ko", "써 주세요")])
def test_the_prompt_is_written_in_the_language_asked(language, word):
    # responder: scripted, the good song (whether it passes in that language does not matter: the request is looked at)
    with serve(Server(scripted(reply(GOOD)))) as server:
        try:
            draft_song(EndpointChat(params(server.url)), "il porto", language, max_rounds=1)
        except LyricsRejected:
            pass
    assert word in server.chats()[0]["messages"][-1]["content"]


def test_a_songs_own_words_only_count_the_replys_lyrics():
    # responder: scripted, a song whose tags and key are unusable but whose lyrics keep every rule at 96 bpm, 40 s
    with serve(Server(scripted(reply(GOOD, genre=["harbourcore"], key="nowhere", title="")))) as server:
        drafted = draft_song(EndpointChat(params(server.url)), "x", "en", max_rounds=1, bpm=96, duration_s=40,
                             words_only=True)
        with pytest.raises(LyricsRejected, match="key: format"):  # a whole song: every field counts
            draft_song(EndpointChat(params(server.url)), "x", "en", max_rounds=1, bpm=96, duration_s=40)
    assert drafted.draft.lyrics == GOOD["lyrics"] and drafted.duration_s == 40 and drafted.rounds == 1


def test_a_server_slower_than_timeout_s_is_retried_then_reported():
    # responder: scripted but slow, answering after 1.5 s, past a 0.3 s timeout
    import time

    def slow(body: dict) -> str:
        time.sleep(1.5)
        return reply(GOOD)

    with serve(Server(slow)) as server:
        started = time.monotonic()
        with pytest.raises(EndpointError, match="ReadTimeout"):
            EndpointChat(params(server.url, timeout_s=0.3, retries=1, stream=False))([{"role": "user", "content": "x"}])
        assert time.monotonic() - started < 1.5 * 2  # each try gave up at its timeout
        assert len(server.chats()) == 2  # one try and one retry


@pytest.mark.parametrize("url", ["http://user:{key}@127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1?api_key={key}",
                                 "http://127.0.0.1:8080/v1#{key}"])
def test_a_key_in_base_url_is_refused_and_never_quoted_back(url):
    from songforge.errors import ParamsError
    from songforge.lyricist_params import lyricist_params

    key = "sk-in-the-url-5a4b3c2d1e"
    with pytest.raises(ParamsError) as raised:
        lyricist_params({"base_url": url.format(key=key), "model": "m"}, "album.yaml", "songs[0].lyricist")
    assert "songs[0].lyricist.base_url" in str(raised.value) and key not in str(raised.value)
    assert "api_key_env" in str(raised.value)
