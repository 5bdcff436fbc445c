"""flows.words.draft_briefs in a real Prefect flow (the session's Prefect API): briefs drafted by the lyricist steps
through run_step, each song's draft failing alone. Backends: the tests' own OpenAI-compatible server on 127.0.0.1
with a scripted responder (one good song, one broken), and the tiny random transformers model in process (the
lyricist-local step, on a host slot: its nonsense never keeps the rules)."""

from __future__ import annotations

import pytest
import yaml
from lyricist_songs import BAD, GOOD, reply
from lyricist_tiny import write_tiny_chat_model
from openai_server import MODEL_ID, Server, serve

from songforge.album_file import load_album
from songforge.lyrics import parse_lyrics

pytestmark = pytest.mark.slow


def test_each_brief_is_drafted_by_its_step_and_a_failed_draft_fails_its_song_alone(prefect_api, tmp_path):
    from prefect import flow

    from flows.words import draft_briefs

    tiny = write_tiny_chat_model(tmp_path / "tiny")

    def respond(body: dict) -> str:  # scripted: the brief says which song it is
        return reply(BAD) if "broken" in body["messages"][1]["content"] else reply(GOOD)

    with serve(Server(respond)) as server:
        endpoint = {"base_url": server.url, "model": MODEL_ID, "max_rounds": 2}
        path = tmp_path / "album.yaml"
        path.write_text(yaml.safe_dump({"title": "Words", "defaults": {"bpm": 96, "duration_s": 40}, "songs": [
            {"title": "Good", "lyrics_brief": "a ferry song", "lyricist": endpoint},
            {"title": "Mine", "lyrics": "[verse]\nMy own words here\nAnd more of mine\n"},
            {"title": "Broken", "lyrics_brief": "a broken song", "lyricist": endpoint},
            {"title": "Tiny", "lyrics_brief": "a tiny song", "lyricist": {
                "backend": "transformers", "model": str(tiny), "max_tokens": 64, "max_rounds": 2}}]}))
        album = load_album(path)
        drafted = flow(name="words-test")(draft_briefs)(album, tmp_path / "out")
    assert [s.title for s in drafted.songs] == ["Good", "Mine"]
    assert drafted.songs[0].lyrics == GOOD["lyrics"] and drafted.songs[0].sections == parse_lyrics(GOOD["lyrics"])
    assert drafted.songs[0].lyrics_by["model"] == MODEL_ID and drafted.songs[1] == album.songs[1]
    reasons = {r.title: (r.index, r.reason) for r in drafted.rejected}
    assert reasons["Broken"][0] == 2 and "line_syllables" in reasons["Broken"][1]
    assert reasons["Tiny"][0] == 3 and "after 2 round(s)" in reasons["Tiny"][1]
    assert len([b for b in server.chats() if "broken" in b["messages"][1]["content"]]) == 2
