"""Which model a draft is recorded as, and what its cache key holds. The server is the tests' own OpenAI-compatible
one on 127.0.0.1 (tests/openai_server.py) with a scripted responder; its /v1/models and Ollama's /api/tags list
what each test says."""

from __future__ import annotations

import pytest
from lyricist_songs import GOOD, reply
from openai_server import MODEL_ID, Server, scripted, serve

from songforge.lyricist.brief import BriefCall, brief_call
from songforge.lyricist.endpoint import EndpointChat
from songforge.lyricist.repair import draft_song
from songforge.lyricist_params import LyricistParams
from songforge.params import SongSpec

DIGEST = "sha256:" + "ab" * 32


def test_a_server_listing_several_other_models_records_the_model_asked_and_the_one_that_answered():
    # /v1/models lists two models, neither the one asked for; the reply names MODEL_ID
    listed = [{"id": "other-a", "revision": "r-a"}, {"id": "other-b", "revision": "r-b"}]
    with serve(Server(scripted(reply(GOOD)), listed=listed)) as server:
        chat = EndpointChat(LyricistParams(base_url=server.url, model="asked-model"))
        drafted = draft_song(chat, "x", "en", max_rounds=1)
    assert drafted.provenance["model"] == "asked-model" and drafted.provenance["revision"] is None
    assert drafted.provenance["answered_by"] == MODEL_ID


def test_the_only_model_listed_is_the_one_recorded_and_a_name_matches_its_latest_tag():
    # /v1/models lists one model under another name; then Ollama's way: 'llama3' asked, 'llama3:latest' listed
    with serve(Server(scripted(reply(GOOD)), listed=[{"id": "the-only-one", "revision": "r1"}])) as server:
        only = EndpointChat(LyricistParams(base_url=server.url, model="asked")).provenance()
    assert (only["model"], only["revision"]) == ("the-only-one", "r1")
    listed = [{"id": "mistral:latest", "revision": "r-m"}, {"id": "llama3:latest", "revision": "r-l"}]
    with serve(Server(scripted(reply(GOOD)), listed=listed)) as server:
        latest = EndpointChat(LyricistParams(base_url=server.url, model="llama3")).provenance()
    assert (latest["model"], latest["revision"]) == ("llama3:latest", "r-l")


def test_ollamas_digest_comes_from_api_tags_and_other_servers_are_keyed_by_name():
    # an Ollama-like server: /v1/models has no digest, /api/tags has; then a server answering /api/tags with 404
    listed = [{"id": "llama3:latest", "object": "model", "owned_by": "library"}]
    tags = [{"name": "llama3:latest", "model": "llama3:latest", "digest": DIGEST}]
    with serve(Server(scripted(reply(GOOD)), listed=listed, tags=tags)) as server:
        ollama = EndpointChat(LyricistParams(base_url=server.url, model="llama3")).provenance()
    assert ollama["revision"] == DIGEST and any(r["path"] == "/api/tags" for r in server.requests)
    with serve(Server(scripted(reply(GOOD)), listed=listed)) as server:
        plain = EndpointChat(LyricistParams(base_url=server.url, model="llama3")).provenance()
    assert plain["model"] == "llama3:latest" and plain["revision"] is None


def _key(call: BriefCall) -> str:
    from tasks.cache import StageCache

    from songforge.steps.lyricist import STEP

    return StageCache(stage="").compute_key(None, {"step": STEP.key, "params": call, "inputs": {}, "song_dir": "x"}, {})


@pytest.mark.parametrize("change,redrafts", [({"seed": 1}, True), ({"model": "another"}, True),
                                             ({"revision": "abc123"}, True), ({"temperature": 0.2}, True),
                                             ({"timeout_s": 5.0}, False), ({"retries": 0}, False),
                                             ({"stream": False}, False), ({"api_key_env": "OTHER_KEY"}, False)])
def test_the_cache_key_holds_what_the_words_depend_on_and_not_how_they_arrive(change, redrafts):
    # the real step cache policy's key for two calls; the server lists every model asked (one each)
    with serve(Server(scripted(reply(GOOD)), listed=[{"id": MODEL_ID, "revision": "r"}])) as server:
        base = {"base_url": server.url, "model": MODEL_ID, "api_key_env": "LYRICIST_KEY"}
        song = SongSpec(title="a", lyrics_brief="the sea", lyricist=LyricistParams(**base))
        changed = song.model_copy(update={"lyricist": LyricistParams(**{**base, **change})})
        first, second = brief_call(song), brief_call(changed)
    assert (_key(first) != _key(second)) is redrafts
    assert second.lyricist == LyricistParams(**{**base, **change})  # the run still gets every setting


def test_the_lyricist_steps_version_follows_the_prompts():
    from songforge.lyricist import prompts
    from songforge.steps import lyricist, lyricist_local

    assert prompts.PROMPT_VERSION in lyricist.STEP.version and prompts.PROMPT_VERSION in lyricist_local.STEP.version
    before = prompts._prompt_digest()
    original = prompts.PROMPTS["en"]
    try:
        prompts.PROMPTS["en"] = prompts.Prompt(original.system + " Rhyme.", original.song, original.repair)
        assert prompts._prompt_digest() != before
    finally:
        prompts.PROMPTS["en"] = original
