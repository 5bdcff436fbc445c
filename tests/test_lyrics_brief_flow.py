"""A song with a `lyrics_brief` through the real album CLI (`songforge album`, a subprocess, the sketch engine),
its words drafted by the tests' own OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py, a scripted
responder): lyrics.txt holds the draft, the lineage records who drafted it (never the key), a rerun takes
the draft from the cache: the server sees no second chat request, and a rerun with the server stopped keeps it."""

from __future__ import annotations

import json

import pytest
import yaml
from lyricist_songs import GOOD, reply
from openai_server import MODEL_ID, REVISION, Server, serve
from test_album_flow import run_cli

from songforge.album_file import load_album
from songforge.errors import ParamsError
from songforge.lyrics import parse_lyrics

KEY = "sk-brief-test-77c1d2e3"


def briefed_album(tmp_path, url: str, brief: str = "the last ferry leaves the harbour") -> object:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Brief Album", "defaults": {"lyricist": {
        "base_url": url, "model": MODEL_ID, "api_key_env": "LYRICIST_FLOW_KEY", "max_rounds": 2}},
        "songs": [{"title": "Ferry", "lyrics_brief": brief, "bpm": 96, "duration_s": 40, "genre": "folk"}]}))
    return path


def test_a_briefed_song_loads_without_lyrics_and_refuses_both_or_neither(tmp_path):
    album = load_album(briefed_album(tmp_path, "http://127.0.0.1:9/v1"))
    song = album.songs[0]
    assert song.lyrics == "" and song.lyricist.model == MODEL_ID and song.lyrics_brief.startswith("the last ferry")
    with pytest.raises(ParamsError, match="not drafted from its lyrics_brief yet"):
        song.sections  # a step planned before the draft would read no words: refused, never sung empty
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump({"title": "x", "songs": [
        {"title": "a", "lyrics_brief": "b", "lyrics": "[verse]\nla\n"},
        {"title": "b", "lyrics": "[verse]\nla\n", "lyrics_by": {"model": "m"}}, {"title": "c"}]}))
    with pytest.raises(Exception) as raised:
        load_album(both)
    text = str(raised.value)
    assert "songs[0].lyrics_brief: is given with lyrics" in text and "songs[1].lyrics_by: is set by songforge" in text
    assert "songs[2].lyrics: is required" in text and "lyrics_brief: ..." in text


def test_a_briefed_song_without_a_lyricist_takes_the_projects_params_lyricist_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "lyricist.yaml").write_text("base_url: http://127.0.0.1:11434/v1\nmodel: llama3\nseed: 7\n")
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"title": "x", "songs": [{"title": "a", "lyrics_brief": "the sea"},
                                                           {"title": "b", "lyrics_brief": "the hill",
                                                            "lyricist": {"model": "mine"}}]}))
    first, second = load_album(path).songs
    assert (first.lyricist.model, first.lyricist.seed, first.lyricist.base_url) == ("llama3", 7,
                                                                                   "http://127.0.0.1:11434/v1")
    assert second.lyricist.model == "mine" and second.lyricist.seed == 0
    (tmp_path / "params" / "lyricist.yaml").write_text("temperature: 9\n")
    with pytest.raises(ParamsError) as raised:
        load_album(path)
    assert "a.yaml: songs[0].lyricist: (params/lyricist.yaml) temperature: Input should be less than or equal to 2" in (
        str(raised.value))


@pytest.mark.slow
def test_a_lyrics_brief_is_drafted_made_and_cached_on_rerun(prefect_api, tmp_path, monkeypatch):
    # responder: scripted, the good song (it fits 40 s at 96 bpm; at 30 s its lines crowd: the song fails alone)
    monkeypatch.setenv("LYRICIST_FLOW_KEY", KEY)
    out, uri = tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}"
    with serve(Server(lambda body: reply(GOOD))) as server:
        path = briefed_album(tmp_path, server.url)
        first = run_cli(path, out, uri, prefect_api)
        log = first.communicate(timeout=900)[0]
        assert first.returncode == 0, log[-3000:]
        assert len(server.chats()) == 1
        again = run_cli(path, out, uri, prefect_api)
        log2 = again.communicate(timeout=900)[0]
        assert again.returncode == 0, log2[-3000:]
        assert len(server.chats()) == 1  # the draft came from the cache (only /v1/models was asked its revision)
    down = run_cli(path, out, uri, prefect_api)  # the server is stopped: the song keeps its draft, said in the log
    log3 = down.communicate(timeout=900)[0]
    assert down.returncode == 0, log3[-3000:]
    assert "unreachable" in log3 and server.url in log3 and "keeps its earlier draft" in log3
    assert all(r["headers"].get("Authorization") == f"Bearer {KEY}" for r in server.requests)
    folder = next(out.glob("*/01-ferry"))
    assert (folder / "lyrics.txt").read_text() == parse_lyrics(GOOD["lyrics"]).text
    assert json.loads((folder / "lyrics_draft.json").read_text())["provenance"]["revision"] == REVISION
    manifest = (folder / "manifest.json").read_text()
    by = json.loads(manifest)["params"]["song"]["lyrics_by"]
    assert by["model"] == MODEL_ID and by["revision"] == REVISION and by["url"] == server.url
    assert by["settings"]["seed"] == 0 and KEY not in manifest and KEY not in log + log2 + log3
    take = json.loads((folder / "take.json").read_text())  # the engine sang the drafted lines, section by section
    sung = [line for section in take["sections"] for line in section["lines"]]
    assert sung == [line for section in parse_lyrics(GOOD["lyrics"]).sections for line in section.lines]
