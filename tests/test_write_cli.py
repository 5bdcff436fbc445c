"""`songforge write` through the real CLI in a subprocess, against the tests' own OpenAI-compatible server on
127.0.0.1 (tests/openai_server.py, scripted responders): an album file written and loaded, one song added, one
song rewritten in place with the file's comments kept, and (slow) the written album made by `songforge album`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lyricist_songs import GOOD, reply
from openai_server import MODEL_ID, REVISION, Server, serve

from songforge.album_file import load_album
from songforge.lyrics import parse_lyrics

ROOT = Path(__file__).resolve().parents[1]


def titled(body: dict) -> str:
    """The good song, titled after the number of chat messages so far (a new title per song of an album)."""
    return reply(GOOD, title=f"Harbour Song {len(body['messages'])}-{sum(len(m['content']) for m in body['messages'])}")


def write(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "write", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


def test_write_makes_an_album_file_the_album_loader_reads(tmp_path):
    # responder: scripted, the good song with a title of its own for each request
    out = tmp_path / "albums" / "harbour.yaml"
    with serve(Server(titled)) as server:
        done = write("leaving a harbour town; indie folk; female vocal; 3 songs", "--out", str(out),
                     "--base-url", server.url, "--model", MODEL_ID)
    assert done.returncode == 0, done.stderr
    album = load_album(out)
    assert album.title == "Leaving a harbour town" and len(album.songs) == 3 == len(server.chats())
    assert len({song.title for song in album.songs}) == 3
    for song in album.songs:
        assert song.lyrics == GOOD["lyrics"] and song.genre == ["folk"] and song.bpm == 96 and song.key == "D major"
        assert 10 <= song.duration_s <= 60 and song.language == "en"
    text = out.read_text()
    assert f"model: {MODEL_ID}" in text and REVISION in text and server.url in text and "lyrics: |" in text
    again = write("another", "--out", str(out), "--base-url", server.url)
    assert again.returncode == 2 and "--force" in again.stderr


def test_write_refuses_what_still_breaks_rules_and_writes_nothing(tmp_path):
    # responder: scripted, always a song whose lines are far too long
    bad = reply(GOOD, lyrics="[verse]\n" + "la " * 30 + "\nla la\n[chorus]\nla la\nla la\n")
    out = tmp_path / "x.yaml"
    with serve(Server(lambda body: bad)) as server:
        done = write("a song", "--songs", "1", "--out", str(out), "--base-url", server.url, "--max-rounds", "2")
    assert done.returncode == 2 and not out.exists()
    assert "after 2 round(s)" in done.stderr and "section 1 [verse] line 1: line_syllables" in done.stderr


COMMENTED = """\
# my album: keep this comment
title: Harbour
songs:
  - title: First   # the opener
    lyrics: |
      [verse]
      Old words here
      More old words
      [chorus]
      Old chorus line
      Old chorus line two
      [verse]
      Old words again
      More old words
      [chorus]
      Old chorus line
      Old chorus line two
    bpm: 96
    duration_s: 40
  - title: Second
    lyrics: "[verse]\\nKeep me as I am\\nKeep me still\\n[chorus]\\nStay\\nStay here\\n"
    duration_s: 30
"""


def test_revise_rewrites_one_song_in_place_keeping_the_rest_and_the_comments(tmp_path):
    # responder: scripted, the good song (its shorter chorus stands for the revision asked)
    path = tmp_path / "album.yaml"
    path.write_text(COMMENTED)
    with serve(Server(lambda body: reply(GOOD, title="First"))) as server:
        done = write("--revise", str(path), "--song", "First", "--note", "make the chorus shorter",
                     "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    asked = server.chats()[0]["messages"][-1]["content"]
    assert "make the chorus shorter" in asked and "Old chorus line two" in asked and "bpm 96" in asked
    text = path.read_text()
    assert "# my album: keep this comment" in text and "# the opener" in text
    assert text.split("  - title: Second", 1)[1] == COMMENTED.split("  - title: Second", 1)[1]
    album = load_album(path)
    assert album.songs[0].lyrics == GOOD["lyrics"] and album.songs[0].bpm == 96
    assert album.songs[0].duration_s == 40 and "duration_s: 40\n" in text  # the song's length is the song's
    assert "duration_s 40" in asked  # the draft was asked to fit it
    assert yaml.safe_load(text)["songs"][1] == yaml.safe_load(COMMENTED)["songs"][1]
    missing = write("--revise", str(path), "--song", "Third", "--note", "x", "--base-url", server.url)
    assert missing.returncode == 2 and "no song is titled 'Third'" in missing.stderr


def test_a_briefed_song_is_revised_from_its_brief_at_its_own_length(tmp_path):
    # responder: scripted, the good song (it fits 40 s at 96 bpm)
    path = tmp_path / "album.yaml"
    path.write_text("title: Harbour\nsongs:\n  - title: Ferry\n    lyrics_brief: the last ferry at dawn\n"
                    "    bpm: 96\n    duration_s: 40\n")
    with serve(Server(lambda body: reply(GOOD, title="Ferry"))) as server:
        done = write("--revise", str(path), "--song", "Ferry", "--note", "sadder", "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    asked = server.chats()[0]["messages"][-1]["content"]
    assert "the last ferry at dawn" in asked and "sadder" in asked
    song = load_album(path).songs[0]
    assert song.lyrics == GOOD["lyrics"] and song.duration_s == 40 and not song.lyrics_brief


@pytest.mark.parametrize("args,field", [(("a record; 45 songs", "--out", "{out}"), "brief: asks for 45 songs"),
                                        (("a record", "--songs", "31", "--out", "{out}"), "--songs: asks for 31"),
                                        (("--song", "x", "--songs", "2", "--out", "{out}"), "--songs: is given with"),
                                        (("a record", "--note", "x", "--out", "{out}"), "--note: is given without")])
def test_options_that_cannot_be_met_are_refused_before_any_draft(tmp_path, args, field):
    # responder: scripted, the good song; it must never be asked
    with serve(Server(lambda body: reply(GOOD))) as server:
        done = write(*[a.format(out=tmp_path / "x.yaml") for a in args], "--base-url", server.url)
    assert done.returncode == 2 and field in done.stderr, done.stderr
    assert not server.chats() and not (tmp_path / "x.yaml").exists()


def test_one_song_is_added_to_an_album_file(tmp_path):
    # responder: scripted, the good song
    path = tmp_path / "album.yaml"
    path.write_text(COMMENTED)
    with serve(Server(lambda body: reply(GOOD))) as server:
        done = write("--song", "the ferry at dawn", "--out", str(path), "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    album = load_album(path)
    assert [s.title for s in album.songs] == ["First", "Second", GOOD["title"]]
    assert "# the opener" in path.read_text()
    assert "the ferry at dawn" in server.chats()[0]["messages"][-1]["content"]


@pytest.mark.slow
def test_the_written_album_is_made_end_to_end_by_songforge_album(prefect_api, tmp_path):
    # responder: scripted, the good song; then the real `songforge album` on the sketch engine
    from test_album_flow import run_cli

    out = tmp_path / "harbour.yaml"
    with serve(Server(titled)) as server:
        done = write("leaving a harbour town", "--songs", "1", "--out", str(out), "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    run = run_cli(out, tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}", prefect_api)
    log = run.communicate(timeout=900)[0]
    assert run.returncode == 0, log[-3000:]
    folder = next((tmp_path / "out").glob("*/01-*"))
    assert (folder / "lyrics.txt").read_text() == parse_lyrics(GOOD["lyrics"]).text
    assert (folder / "master.wav").is_file() and (folder / "metrics.json").is_file()


def test_an_album_whose_song_fails_keeps_the_songs_drafted_before_it(tmp_path):
    # responder: scripted, a good song titled anew for each request, but song 2 of 3 always far too long
    bad = reply(GOOD, lyrics="[verse]\n" + "la " * 30 + "\nla la\n[chorus]\nla la\nla la\n")

    def respond(body: dict) -> str:
        return bad if "(song 2 of 3" in body["messages"][1]["content"] else titled(body)

    out = tmp_path / "x.yaml"
    with serve(Server(respond)) as server:
        done = write("harbour songs", "--songs", "3", "--out", str(out), "--base-url", server.url,
                     "--max-rounds", "1")
    assert done.returncode == 2 and "song 2 of 3" in done.stderr and "line_syllables" in done.stderr
    assert "1 song(s) drafted before it are written" in done.stderr and "--song BRIEF" in done.stderr
    album = load_album(out)
    assert len(album.songs) == 1 and album.songs[0].lyrics == GOOD["lyrics"]
    assert "songs 2 to 3 not drafted" in out.read_text() and len(server.chats()) == 2  # song 3 never asked
