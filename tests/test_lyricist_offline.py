"""A rerun whose lyricist server is down: a song drafted before, asked exactly as now, keeps its draft (a warning
names the server); asked otherwise, it fails alone. The first draft comes from the tests' own OpenAI-compatible
server on 127.0.0.1 (tests/openai_server.py, a scripted responder), which is then stopped: nothing listens."""

from __future__ import annotations

import logging

import yaml
from lyricist_songs import GOOD, reply
from openai_server import MODEL_ID, Server, scripted, serve

from songforge.album_file import load_album
from songforge.lyricist.brief import brief_call, draft_words


def _album(tmp_path, url: str, seed: int = 0):
    path = tmp_path / f"album-{seed}.yaml"
    path.write_text(yaml.safe_dump({"title": "Offline", "defaults": {"bpm": 96, "duration_s": 40, "lyricist": {
        "base_url": url, "model": MODEL_ID, "max_rounds": 1, "retries": 0, "seed": seed}}, "songs": [
        {"title": "Ferry", "lyrics_brief": "the last ferry"}]}))
    return load_album(path)


def test_a_rerun_with_the_server_down_keeps_the_cached_draft_and_says_so(tmp_path, caplog):
    from flows.song import song_folders
    from flows.words import draft_briefs

    with serve(Server(scripted(reply(GOOD)))) as server:
        album = _album(tmp_path, server.url)
        folder = song_folders(album, tmp_path / "out")[0]
        folder.mkdir(parents=True)
        draft_words(brief_call(album.songs[0]), {}, folder)  # the first run's lyricist step
    logging.getLogger("flows.words").addHandler(caplog.handler)  # Prefect's logging config stops propagation
    again = draft_briefs(album, tmp_path / "out")  # nothing listens at server.url now
    assert [s.title for s in again.songs] == ["Ferry"] and again.songs[0].lyrics == GOOD["lyrics"]
    assert again.songs[0].lyrics_by["model"] == MODEL_ID and not again.rejected
    assert "unreachable" in caplog.text and server.url in caplog.text and "earlier draft" in caplog.text
    logging.getLogger("flows.words").removeHandler(caplog.handler)
    other = draft_briefs(_album(tmp_path, server.url, seed=1), tmp_path / "out")  # asked otherwise: not reused
    assert not other.songs and "llama-server" in other.rejected[0].reason
