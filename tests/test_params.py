"""Params: YAML in, frozen models out; bad input fails before anything runs, naming file, field and fix."""

import json
from pathlib import Path

import pytest
import yaml

from songforge.album_file import album_from_dict, load_album
from songforge.errors import ParamsError

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


def test_every_mistake_of_a_file_is_reported_at_once_each_with_file_field_and_fix(tmp_path):
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Test", "concurrency": 99, "songs": [
        {"title": "One", "lyrics": LYRICS, "bpm": 400, "key": "H major"},
        {"title": "Two", "lyrics": LYRICS, "genre": ["popp"], "engine": {"params": {"swing": 5}}}]}))
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    fields = [problem.field for problem in caught.value.problems]
    assert sorted(fields) == sorted(["songs[0].bpm", "songs[0].key", "songs[1].genre[0]",
                                     "songs[1].engine.params.swing", "concurrency"])
    lines = str(caught.value).splitlines()
    assert len(lines) == 5 and lines == [str(problem) for problem in caught.value.problems]
    assert all(line.startswith(f"{path}: ") and ". Fix: " in line for line in lines), lines
    assert caught.value.field == fields[0]  # the error still reads as its first problem


def test_lenient_load_sets_aside_a_lyrics_only_song_and_reports_every_other_problem(tmp_path):
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Test", "songs": [
        {"title": "Fine", "lyrics": LYRICS},
        {"title": "No Tags", "lyrics": "just words"},
        {"title": "Bad Bpm", "lyrics": LYRICS, "bpm": 999},
        {"title": "Bad Key", "lyrics": LYRICS, "key": "H"}]}))
    with pytest.raises(ParamsError) as caught:
        load_album(path, lenient_songs=True)
    assert [p.field for p in caught.value.problems] == ["songs[2].bpm", "songs[3].key"]  # not the lyrics song


def test_a_tag_field_takes_one_tag_as_a_string():
    album = album_from_dict({"title": "T", "songs": [{"title": "A", "lyrics": LYRICS, "genre": "Pop",
                                                     "mood": "uplifting", "voice": "male"}]})
    song = album.songs[0]
    assert song.genre == ["pop"] and song.mood == ["uplifting"] and song.voice == ["male"]
    with pytest.raises(ParamsError) as caught:
        album_from_dict({"title": "T", "songs": [{"title": "A", "lyrics": LYRICS, "genre": "popp"}]})
    assert caught.value.field == "songs[0].genre[0]" and "'pop'" in str(caught.value)


def test_the_example_song_file_loads_as_an_album_of_one():
    album = load_album(ROOT / "params/songs/night-drive.yaml")
    song = album.songs[0]
    assert album.title == song.title == "Night Drive" and len(album.songs) == 1
    assert song.genre == ["pop"] and song.engine.name == "sketch" and album.master.target_lufs == -14
    assert "params/songs/night-drive.yaml" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_the_example_song_file_runs_through_songforge_song(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "app.cli", "song", "params/songs/night-drive.yaml", "--out",
                             str(tmp_path / "out"), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out" / "night-drive" / "01-night-drive" / "master.wav").is_file()


def long_lyrics(lines: int) -> str:
    line = "Every mile a little less the same"  # 9 syllables: two bars sung densely (12 a bar)
    return "[verse]\n" + "\n".join([line] * lines) + "\n"


def test_lyrics_that_cannot_fit_the_longest_song_are_refused_at_load_with_the_numbers(tmp_path):
    path = write_album(tmp_path, lyrics=long_lyrics(6000), bpm=110)  # ~200 KB
    assert path.stat().st_size > 200_000
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    problem = caught.value.problems[0]
    assert len(caught.value.problems) == 1 and problem.field == "songs[0].lyrics", caught.value
    # (6000 lines x 1 bar x 4 beats + 2 beats of final chord) x 60 / 110 s + 1 s of tail = 13,093 s of song, which
    # the form's 15 % tolerance fits into duration_s 11,386 (generate asked for duration_s 13093 and more)
    assert "110 bpm" in problem.problem and "duration_s 11386 or more" in problem.problem and "600 s" in problem.problem
    assert "split them into several songs" in problem.fix and len(str(caught.value)) < 500
    path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "Long", "lyrics": long_lyrics(6000)},
                                                            {"title": "Short", "lyrics": LYRICS}]}))
    lenient = load_album(path, lenient_songs=True)  # too long is the song's own failure: the others are made
    assert [s.title for s in lenient.songs] == ["Short"] and "too long for any song" in lenient.rejected[0].reason


@pytest.mark.parametrize("bpm", [80, 150])
def test_the_load_check_agrees_with_the_engine_at_the_longest_song(tmp_path, bpm):
    """The lyrics that load are exactly those the sketch engine lays out in a 600-s song."""
    from songforge.engine.sketch.compose import TAIL_S
    from songforge.engine.sketch.form import plan_form
    from songforge.lyrics import parse_lyrics

    # one bar a line: the longest lyrics a 600-s song holds have about 600 * 1.15 / (4 * 60 / bpm) lines
    fitting = int((600 * 1.15 - TAIL_S) * bpm / 240) - 1
    for lines, fits in [(fitting, True), (fitting + 2, False)]:
        text = long_lyrics(lines)
        path = write_album(tmp_path, lyrics=text, bpm=bpm, duration_s=600)
        engine_fits = True
        try:
            plan_form(parse_lyrics(text), bpm, 600, TAIL_S)
        except ParamsError:
            engine_fits = False
        assert engine_fits == fits, (lines, bpm)
        if fits:
            assert load_album(path).songs[0].duration_s == 600
        else:
            with pytest.raises(ParamsError, match="too long for any song"):
                load_album(path)


def alias_bomb(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\ntitle: *l{levels - 1}\nsongs: [{{title: A, genre: *l{levels - 1}}}]\n"


@pytest.mark.parametrize("loader", ["album", "sweep", "overrides"])
def test_a_yaml_alias_bomb_is_refused_at_once_with_a_short_message(tmp_path, loader):
    import time

    from songforge.overrides import load_overrides
    from songforge.sweep import load_sweep

    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(10))  # 9^10 = 3.5 billion strings once expanded
    load = {"album": load_album, "sweep": load_sweep, "overrides": load_overrides}[loader]
    started = time.perf_counter()
    with pytest.raises(ParamsError) as caught:
        load(path)
    assert time.perf_counter() - started < 5  # a generous guard: the check itself takes milliseconds
    assert "YAML aliases" in str(caught.value) and len(str(caught.value)) < 2000
    path.write_text("a: &a [1, *a]\n")  # an alias inside its own anchor
    with pytest.raises(ParamsError, match="contains it"):
        load(path)


def test_a_params_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    from songforge.params_file import MAX_FILE_BYTES

    path = tmp_path / "huge.yaml"
    path.write_text("title: T\n# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    assert "larger than 1024 KiB" in str(caught.value) and len(str(caught.value)) < 500


def test_errors_quote_at_most_a_short_excerpt_of_any_value(tmp_path):
    big = "x" * 300_000
    path = tmp_path / "album.yaml"  # one 300 KB string, quoted by reference (an alias) in five fields
    path.write_text(f"title: T\nsongs:\n- title: &big {big}\n  lyrics: {json.dumps(LYRICS)}\n  bpm: *big\n"
                    "  key: *big\n  genre: [*big]\n  mood: [[*big, *big, *big]]\n")
    with pytest.raises(ParamsError) as caught:
        load_album(path)
    assert {"songs[0].bpm", "songs[0].key", "songs[0].genre", "songs[0].mood[0]", "songs[0].title"} <= \
        {p.field for p in caught.value.problems}, caught.value
    assert all(len(str(problem)) < 1000 for problem in caught.value.problems), caught.value
    assert len(str(caught.value)) < 5000


def test_lyrics_files_are_bounded_text(tmp_path):
    for name, data, words in [("big.txt", b"[verse]\n" + b"la " * 400_000, "larger than"),
                              ("binary.txt", bytes(range(256)) * 10, "not UTF-8 text")]:
        (tmp_path / name).write_bytes(data)
        path = tmp_path / "album.yaml"
        path.write_text(yaml.safe_dump({"title": "T", "songs": [{"title": "A", "lyrics_file": name}]}))
        with pytest.raises(ParamsError) as caught:
            load_album(path)
        assert caught.value.field == "songs[0].lyrics_file" and words in caught.value.problem
