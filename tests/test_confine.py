"""Deployment runs are confined: every path they are given must lie in the project folder or SONGFORGE_ALLOWED_ROOTS;
a run started by hand reads any file. The library's check, given the roots, on real files (the flows that pass the
roots: tests/test_flows_inputs.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from songforge.album_file import load_album
from songforge.confine import ROOTS_SETTING, allowed_roots, is_inside
from songforge.errors import ParamsError

LYRICS = "[verse]\nHello there my friend\n[chorus]\nSing it loud\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder four levels down (so that ../../../../etc/hostname climbs to /etc), and a folder beside it."""
    root = tmp_path / "a" / "b" / "c" / "project"
    (root / "params" / "albums").mkdir(parents=True)
    (root / "params" / "lyrics").mkdir()
    (root / "params" / "lyrics" / "fine.txt").write_text(LYRICS)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("[verse]\naws_secret_access_key = hunter2\n")
    return root


def album_file(project: Path, songs: list[dict], master: dict | None = None, name: str = "album") -> Path:
    path = project / "params" / "albums" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"title": "Confined", "songs": songs, **({"master": master} if master else {})}))
    return path


def test_allowed_roots_are_the_project_and_the_operators_list(tmp_path):
    (tmp_path / "studio").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "studio")
    env = {ROOTS_SETTING: os.pathsep.join([str(tmp_path / "studio"), "", str(tmp_path / "link")])}
    assert allowed_roots(tmp_path / "project", env) == (tmp_path / "project", tmp_path / "studio")
    assert allowed_roots(tmp_path / "project", {}) == (tmp_path / "project",)
    assert is_inside(tmp_path / "studio" / "out" / "x.wav", [tmp_path / "studio"])
    assert not is_inside(tmp_path / "studio" / ".." / "elsewhere", [tmp_path / "studio"])


def test_a_deployment_run_refuses_lyrics_files_outside_its_roots_naming_the_setting(project, tmp_path):
    (project / "params" / "lyrics" / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    path = album_file(project, [{"title": "Climb", "lyrics_file": "../../../../etc/hostname"},  # the issue's
                                {"title": "To Etc", "lyrics_file": "../" * 40 + "etc/hostname"},  # /etc/hostname
                                {"title": "Absolute", "lyrics_file": str(tmp_path / "outside" / "secret.txt")},
                                {"title": "Link", "lyrics_file": "../lyrics/link.txt"},
                                {"title": "Fine", "lyrics_file": "../lyrics/fine.txt"}])
    for lenient in (False, True):  # never a song's own failure: the whole run is refused
        with pytest.raises(ParamsError) as caught:
            load_album(path, lenient_songs=lenient, roots=allowed_roots(project, {}))
        problems = caught.value.problems
        assert [p.field for p in problems] == [f"songs[{i}].lyrics_file" for i in range(4)]
        assert all(ROOTS_SETTING in p.fix and "outside the folders a deployment run may use" in p.problem
                   for p in problems)
        assert "hunter2" not in str(caught.value)
    by_hand = load_album(album_file(project, [{"title": "Absolute",
                                              "lyrics_file": str(tmp_path / "outside" / "secret.txt")}]))
    assert "hunter2" in by_hand.songs[0].lyrics  # by hand, any file the person can read


def test_an_operator_listed_root_lets_its_files_in(project, tmp_path):
    path = album_file(project, [{"title": "Absolute", "lyrics_file": str(tmp_path / "outside" / "secret.txt")}])
    roots = allowed_roots(project, {ROOTS_SETTING: str(tmp_path / "outside")})
    assert load_album(path, roots=roots).songs[0].title == "Absolute"


def test_references_prompt_audio_and_the_album_file_itself_are_confined(project, tmp_path):
    audio = 0.1 * np.random.default_rng(0).standard_normal((8 * 44100, 2))
    sf.write(tmp_path / "outside" / "ref.wav", audio.astype(np.float32), 44100)
    path = album_file(project, [{"title": "Prompted", "lyrics": LYRICS, "engine": {
        "name": "yue", "params": {"prompt_audio": str(tmp_path / "outside" / "ref.wav")}}}],
        master={"reference": str(tmp_path / "outside" / "ref.wav")})
    roots = allowed_roots(project, {})
    with pytest.raises(ParamsError) as caught:
        load_album(path, roots=roots)
    assert sorted(p.field for p in caught.value.problems) == ["master.reference", "songs[0].engine.params.prompt_audio"]
    outside_album = tmp_path / "outside" / "album.yaml"
    outside_album.write_text(path.read_text())
    with pytest.raises(ParamsError, match=ROOTS_SETTING) as caught:
        load_album(outside_album, roots=roots)
    assert caught.value.field == "(file)"
