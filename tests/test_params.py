"""Params: YAML in, frozen models out; bad input fails before anything runs, naming file, field and fix."""

from pathlib import Path

import pytest
import yaml

from songforge.errors import ParamsError
from songforge.params import load_album

ROOT = Path(__file__).resolve().parents[1]
LYRICS = "[verse]\nHello there my friend\n[chorus]\nSing it loud\n"


def write_album(tmp_path: Path, **song_fields) -> Path:
    song = {"title": "One", "lyrics": LYRICS, "bpm": 100, "key": "D minor", **song_fields}
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Test", "songs": [song]}))
    return path


def test_demo_album_loads_with_defaults_merged():
    album = load_album(ROOT / "params/albums/demo.yaml")
    assert len(album.songs) == 3
    assert all(s.engine.name == "sketch" for s in album.songs)
    assert album.songs[0].voice == ["female", "bright vocal"]  # from defaults
    assert album.songs[1].voice == ["male", "warm vocal"]  # the song's own wins
    assert album.master.target_lufs == -14 and album.master.true_peak_dbtp == -1
    assert all(30 <= s.duration_s <= 60 for s in album.songs)


@pytest.mark.parametrize("fields, field, fix_word", [
    ({"bpm": 400}, "songs[0].bpm", "40 and 240"),
    ({"key": "H major"}, "songs[0].key", "A minor"),
    ({"genre": ["popp"]}, "songs[0].genre[0]", "'pop'"),
    ({"lyrics": "no tags at all"}, "songs[0].lyrics", "[verse]"),
    ({"lyrics": "[pre-chorus]\nla la\n"}, "songs[0].lyrics", "[prechorus]"),
    ({"tempo": 100}, "songs[0].tempo", "remove the field"),
    ({"engine": {"name": "nope"}}, "songs[0].engine.name", "sketch"),
    ({"title": "../../etc"}, None, None),  # a hostile title is fine: it is slugged, see test_paths
])
def test_bad_song_names_file_field_and_fix(tmp_path, fields, field, fix_word):
    path = write_album(tmp_path, **fields)
    if field is None:
        slug = load_album(path).songs[0].slug
        assert slug.startswith("etc") and "/" not in slug and ".." not in slug
        return
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert caught.value.field == field, message
    assert fix_word in caught.value.fix, message
    assert "\n" not in message  # one paragraph


def test_missing_lyrics_file_and_duplicate_titles(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "A", "lyrics_file": "nope.txt"}]}))
    with pytest.raises(ParamsError, match=r"songs\[0\]\.lyrics_file"):
        load_album(path)
    path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "Same", "lyrics": LYRICS},
                                                            {"title": "Same", "lyrics": LYRICS}]}))
    with pytest.raises(ParamsError, match=r"songs\[1\]\.title"):
        load_album(path)


def test_invalid_yaml_and_missing_reference(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("title: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_album(path)
    path.write_text(yaml.safe_dump({"title": "T", "master": {"reference": "missing.wav"},
                                    "songs": [{"title": "A", "lyrics": LYRICS}]}))
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    assert caught.value.field == "master.reference"


def test_single_song_file_is_an_album_of_one(tmp_path):
    path = tmp_path / "song.yaml"
    path.write_text(yaml.safe_dump({"title": "Solo", "lyrics": LYRICS, "master": {"target_lufs": -16}}))
    album = load_album(path)
    assert album.title == "Solo" and len(album.songs) == 1 and album.master.target_lufs == -16


def test_params_are_frozen():
    album = load_album(ROOT / "params/albums/demo.yaml")
    with pytest.raises(Exception):
        album.songs[0].bpm = 10
