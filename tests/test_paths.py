"""Titles in any script name their own folders, never write outside the output folder; writes are atomic."""

import functools
import hashlib
import http.server
import threading
import unicodedata
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from songforge.album_file import load_album
from songforge.audio.io import write_wav
from songforge.errors import ParamsError
from songforge.lyrics import parse_lyrics
from songforge.paths import album_dir, ascii_key, atomic_path, inside, slugify, song_dir
from songforge.report import SongReport, album_report_html
from songforge.syllables import line_syllables


def tag(title: str) -> str:
    """The '-' and 8 hex a slug ends in when its readable part is not the whole title."""
    return "-" + hashlib.sha256(unicodedata.normalize("NFKC", title).encode()).hexdigest()[:8]


@pytest.mark.parametrize("title, slug", [
    ("Morning Light", "morning-light"), ("Demo Album", "demo-album"), ("  Demo   Album ", "demo-album"),
    ("夏天", "夏天"), ("사랑해 너를", "사랑해-너를"), ("夏の空", "夏の空"), ("Amore", "amore"),
    ("नमस्ते दुनिया", "नमस्ते-दुनिया"),  # Devanagari vowel signs (combining marks) stay
    ("../../etc/passwd", "etc-passwd" + tag("../../etc/passwd")), ("..", "untitled" + tag("..")),
    ("Été à Paris!", "été-à-paris" + tag("Été à Paris!")), ("/abs/path", "abs-path" + tag("/abs/path")),
    ("", "untitled" + tag("")), ("a" * 200, "a" * 51 + tag("a" * 200)), ("ＡＢＣ", "abc"),
])
def test_slugify(title, slug):
    assert slugify(title) == slug


@pytest.mark.parametrize("title", ["abc\u202edef", "a\u0000b", "a\nb", "a/b", "a\\b", "\u2066x\u2069", "a\u200bb",
                                   "line\u2028sep", ".hidden", "..", "../..", "/", "\u202e/../etc"])
def test_no_separator_control_or_bidi_character_reaches_a_folder(tmp_path, title):
    slug = slugify(title)
    assert slug and not slug.startswith((".", "-")) and "/" not in slug and "\\" not in slug
    assert all(unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp", "Zs") for char in slug), ascii(slug)
    assert len(slug) <= 60 and len(f"99-{slug}".encode()) < 255
    folder = song_dir(tmp_path, title, 1, title)
    assert folder.parent.parent == tmp_path.resolve() and folder.name == f"01-{slug}"


def test_titles_differing_only_in_punctuation_get_their_own_folders():
    titles = ["Hold On", "Hold On!", "Hold On?", "Hold On.", "hold on...", "Hold, On", "夏天", "夏天!", "夏天。"]
    slugs = [slugify(title) for title in titles]
    assert len(set(slugs)) == len(titles), slugs
    assert slugs[0] == "hold-on" and slugs[6] == "夏天"  # the faithful ones stay readable
    assert all(slugify(title) == slug for title, slug in zip(titles, slugs))  # the same every time
    # Case and whitespace are not what a folder tells apart: these name one folder (an album refuses both).
    assert slugify("Hold-On") == slugify("hold   on") == "hold-on"


def test_long_titles_are_cut_in_characters_and_stay_unique():
    long_zh = "夏" * 100
    assert slugify(long_zh) == "夏" * 51 + tag(long_zh) and len(slugify(long_zh).encode()) < 255
    assert slugify("夏" * 100) != slugify("夏" * 101)


def test_song_dir_stays_inside_out(tmp_path):
    path = song_dir(tmp_path, "../../Album", 3, "../../../evil")
    assert tmp_path.resolve() in path.parents
    assert path.name == "03-evil" + tag("../../../evil")
    with pytest.raises(ParamsError):
        inside(tmp_path, "..", "x")


def _album_file(folder: Path, title: str, song_titles: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    songs = [{"title": song, "lyrics": "[verse]\n夏天的风\n", "language": "zh"} for song in song_titles]
    path = folder / "album.yaml"
    path.write_text(yaml.safe_dump({"title": title, "songs": songs}, allow_unicode=True), encoding="utf-8")
    return path


def test_two_chinese_titles_in_one_album_get_their_own_folders(tmp_path):
    album = load_album(_album_file(tmp_path, "夏天的歌", ["夏天", "海边"]))
    assert [song.slug for song in album.songs] == ["夏天", "海边"]
    folders = [song_dir(tmp_path / "out", album.title, i, song.title) for i, song in enumerate(album.songs, 1)]
    assert [f.name for f in folders] == ["01-夏天", "02-海边"] and folders[0].parent.name == "夏天的歌"


def test_two_chinese_albums_in_one_out_folder_do_not_overwrite_each_other(tmp_path):
    first = load_album(_album_file(tmp_path / "a", "夏天的歌", ["夏天"]))
    second = load_album(_album_file(tmp_path / "b", "冬天的歌", ["夏天"]))
    out = tmp_path / "out"
    assert album_dir(out, first.title) != album_dir(out, second.title)
    assert album_dir(out, first.title).name == "夏天的歌"


def test_prefect_keys_stay_ascii_and_unique():
    assert ascii_key("demo-album-metrics") == "demo-album-metrics"  # unchanged where it was ASCII
    keys = [ascii_key(f"{slugify(title)}-metrics") for title in ["夏天", "冬天", "Été", "Ete"]]
    assert len(set(keys)) == 4 and all(key and set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") for key in keys)
    assert len(ascii_key("x" * 300)) <= 100


class _Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.sources += [value for name, value in attrs if tag == "audio" and name == "src"]


def test_review_page_links_reach_audio_in_non_ascii_folders_over_http_and_file(tmp_path):
    song = song_dir(tmp_path, "夏天的歌", 1, "夏天 #1?")
    audio = np.zeros((4410, 2), dtype=np.float32)
    write_wav(song / "master.wav", audio, 44_100)
    relative = song.relative_to(song.parent).as_posix()
    report = album_report_html("夏天的歌", [SongReport(title="夏天 #1?", folder=relative,
                                                      audio={"master": f"{relative}/master.wav"})],
                               song.parent / "report.html")
    parser = _Sources()
    parser.feed(report.read_text(encoding="utf-8"))
    assert len(parser.sources) == 1 and parser.sources[0].isascii(), parser.sources  # percent-encoded
    expected = (song / "master.wav").read_bytes()
    with urllib.request.urlopen(urllib.parse.urljoin(report.as_uri(), parser.sources[0])) as reply:
        assert reply.read() == expected
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(report.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = f"http://127.0.0.1:{server.server_address[1]}/report.html"
        with urllib.request.urlopen(urllib.parse.urljoin(page, parser.sources[0])) as reply:
            assert reply.read() == expected
    finally:
        server.shutdown()
        server.server_close()


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


def test_lyrics_sections_and_syllables():
    lyrics = parse_lyrics("[Verse]\nHello beautiful world\n\n[chorus]\nSing\n[outro]\n")
    assert [s.tag for s in lyrics.sections] == ["verse", "chorus", "outro"]
    assert lyrics.sections[2].is_instrumental
    assert line_syllables("Hello beautiful world") == [2, 3, 1]
    assert lyrics.text.startswith("[verse]\nHello beautiful world\n\n")
