"""manifest.json: input and output hashes that match the files, the engine, the code version, and MLflow tags."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from songforge import __version__
from songforge.album_file import album_from_dict
from songforge.artifacts import file_sha256, output
from songforge.audio.io import write_mp3, write_wav
from songforge.engine.base import take_identity
from songforge.engine.take import SongTake
from songforge.lineage import build_manifest, canonical_sha256, code_version, text_sha256
from songforge.params import MasterSpec

LYRICS = "[verse]\nLittle light upon the hill\n[chorus]\nHold on\n"
RATE = 44100


def tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.stack([0.2 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)


def a_song(**engine_params):
    return album_from_dict({"title": "Lineage", "songs": [{"title": "First Light", "lyrics": LYRICS, "seed": 4,
                                                           "engine": {"name": "sketch", "params": engine_params}}]})


def stage_outputs(song_dir: Path) -> dict:
    """Real files in a song folder, as the stages hand them on (content is small, not a real song)."""
    (song_dir / "stems").mkdir(parents=True, exist_ok=True)

    def write(name: str, text: str) -> Path:
        (song_dir / name).write_text(text)
        return song_dir / name

    return {
        "lyrics": output("lyrics", lyrics=write("lyrics.txt", LYRICS), style=write("style.txt", "pop\n")),
        "generate": output("generate", {"engine": "sketch"}, vocals=write_wav(song_dir / "stems/vocals.wav", tone(), RATE),
                           take=write("take.json", "{}")),
        "master": output("master", {"mode": "loudness", "output_lufs": -14.0},
                         master=write_wav(song_dir / "master.wav", tone(), RATE),
                         preview=write_mp3(song_dir / "master.mp3", tone(), RATE)),
        "measure": output("measure", {"lufs": -14.0, "key": "C major"}, metrics=write("metrics.json", "{}")),
        "flags": output("flags", {"failed": 0}, flags=write("flags.json", "{}")),
        "plots": output("plots", waveform=write("waveform.png", "png"), pitch=write("pitch.png", "png")),
    }


def test_manifest_hashes_match_inputs_and_files(tmp_path):
    reference = write_wav(tmp_path / "reference.wav", tone(1.0), RATE)
    song = a_song(humanize=0.3).songs[0]
    song_dir = tmp_path / "out" / "lineage" / "01-first-light"
    outputs = stage_outputs(song_dir)
    code = {"package": __version__, "git_commit": "abc", "git_dirty": False, "label": f"{__version__}+gabc"}
    runs = {"mlflow": {"run_id": "r1"}}
    manifest = build_manifest(song, outputs, song_dir=song_dir, code=code, runs=runs,
                              master=MasterSpec(reference=reference))

    assert manifest["inputs"]["lyrics_sha256"] == text_sha256(song.lyrics)
    assert manifest["inputs"]["reference_sha256"] == file_sha256(reference)
    assert manifest["inputs"]["params_sha256"] == canonical_sha256(manifest["params"])
    engine_params = manifest["params"]["engine"]["params"]
    assert engine_params["humanize"] == 0.3 and engine_params["drums"] is True  # defaults made explicit
    assert manifest["params"]["song"]["seed"] == 4 and manifest["params"]["master"]["reference"] == str(reference)
    assert manifest["engine"]["identity"] == take_identity(song) == SongTake.of(song).identity  # the take's cache key
    assert manifest["engine"]["model_revision"].startswith("soundfont-sha256:")
    assert manifest["code"] == code and manifest["runs"] == runs
    assert manifest["song"]["folder"] == "01-first-light"
    files = [(stage, role, entry) for stage, roles in manifest["outputs"].items() for role, entry in roles.items()]
    assert len(files) == sum(len(result.files) for result in outputs.values()) == 10
    for stage, role, entry in files:
        assert file_sha256(song_dir / entry["path"]) == entry["sha256"], (stage, role)
    assert manifest["outputs"]["generate"]["vocals"]["path"] == "stems/vocals.wav"


def test_params_hash_ignores_order_and_sees_changes():
    assert canonical_sha256({"a": 1, "b": [1, 2]}) == canonical_sha256({"b": [1, 2], "a": 1})
    assert canonical_sha256({"a": 1}) != canonical_sha256({"a": 1.5})


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_reads_commit_and_dirty_flag(tmp_path):
    git = lambda *args: subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,  # noqa: E731
                                       text=True).stdout.strip()
    assert code_version.__wrapped__(tmp_path) == {"package": __version__, "git_commit": None, "git_dirty": None,
                                                  "label": __version__}
    git("init", "-q")
    (tmp_path / "songforge").mkdir()
    (tmp_path / "songforge" / "x.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    git("add", "songforge")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    commit = git("rev-parse", "HEAD")
    clean = code_version.__wrapped__(tmp_path)
    assert clean["git_commit"] == commit and clean["git_dirty"] is False  # untracked notes are not code
    assert clean["label"] == f"{__version__}+g{commit[:12]}"
    (tmp_path / "songforge" / "x.py").write_text("x = 2\n")
    dirty = code_version.__wrapped__(tmp_path)
    assert dirty["git_dirty"] is True and dirty["label"].endswith(".dirty")


def test_log_song_writes_manifest_and_tags_the_mlflow_run(tmp_path):
    from mlflow import MlflowClient

    from songforge.plan import plan_song
    from tasks.track import log_song, start_album_run

    album = a_song()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    song_dir = tmp_path / "out" / "lineage" / "01-first-light"
    outputs = stage_outputs(song_dir)
    parent = start_album_run.fn(album, uri)
    view = plan_song(album.songs[0], album).view()
    tracked = log_song.fn(parent, album.songs[0], outputs, album.master, view)

    manifest_path = song_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert tracked.manifest.path == str(manifest_path) and tracked.is_intact()
    assert manifest["runs"]["mlflow"] == {"run_id": tracked.run_id, "parent_run_id": parent.run_id}
    assert manifest["outputs"]["master"]["master"]["sha256"] == file_sha256(song_dir / "master.wav")
    run = MlflowClient(uri).get_run(tracked.run_id)
    tags = run.data.tags
    assert tags["songforge.manifest_sha256"] == file_sha256(manifest_path)
    assert tags["songforge.code_version"] == manifest["code"]["label"]
    assert tags["songforge.engine"] == manifest["engine"]["identity"]
    assert tags["songforge.lyrics_sha256"] == manifest["inputs"]["lyrics_sha256"]
    assert tags["songforge.params_sha256"] == manifest["inputs"]["params_sha256"]
    assert "manifest.json" in {a.path for a in MlflowClient(uri).list_artifacts(tracked.run_id)}

    manifest_path.write_text(manifest_path.read_text().replace(tracked.run_id, "someone-else"))
    assert not tracked.is_intact()  # an edited manifest makes the cached track step run again
