"""Titles never write outside the output folder; writes are atomic."""

import pytest

from songforge.errors import ParamsError
from songforge.lyrics import parse_lyrics
from songforge.syllables import line_syllables
from songforge.paths import atomic_path, inside, slugify, song_dir


@pytest.mark.parametrize("title, slug", [
    ("Morning Light", "morning-light"), ("../../etc/passwd", "etc-passwd"), ("..", "untitled"),
    ("Été à Paris!", "ete-a-paris"), ("/abs/path", "abs-path"), ("", "untitled"), ("a" * 200, "a" * 60),
])
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_song_dir_stays_inside_out(tmp_path):
    path = song_dir(tmp_path, "../../Album", 3, "../../../evil")
    assert tmp_path.resolve() in path.parents
    assert path.name == "03-evil"
    with pytest.raises(ParamsError):
        inside(tmp_path, "..", "x")


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
