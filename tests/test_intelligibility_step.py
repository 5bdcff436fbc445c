"""The intelligibility step: planned when a song asks, the last vocal stem heard by the song's ASR (pocketsphinx for
real, a tiny random Whisper for the plumbing), best of N passes, instrumental songs, and the check before any run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from whisper_tiny import save_tiny_whisper

from songforge.album_file import load_album
from songforge.artifacts import output
from songforge.errors import EngineError, ParamsError
from songforge.judge.asr import WHISPER
from songforge.plan import plan_song
from songforge.preflight import check_album

SUNG = "the paper planes are flying over the river tonight and I will wait for you"
LYRICS = f"[verse]\n{SUNG.capitalize()}.\n"
OTHER = "[verse]\nGold is in the garden where the morning sleeps,\n[chorus]\nCount the silver dreams!\n"


@pytest.fixture(scope="module")
def vocals(tmp_path_factory) -> Path:
    """espeak-ng saying the verse: the vocal stem a real ASR can hear."""
    path = tmp_path_factory.mktemp("stems") / "vocals.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "110", "-w", str(path), SUNG], check=True)
    return path


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory) -> Path:
    return save_tiny_whisper(tmp_path_factory.mktemp("models") / "tiny-whisper")


def album_of(folder: Path, song: dict | None = None, **album):
    path = folder / "album.yaml"
    song = {"title": "One", "lyrics": LYRICS, "duration_s": 12, **(song or {})}
    path.write_text(yaml.safe_dump({"title": "Heard", "songs": [song], **album}))
    return load_album(path)


def planned(album):
    return next(p for p in plan_song(album.songs[0], album).steps if p.name == "intelligibility")


def run(album, vocals: Path, folder: Path):
    step = planned(album)
    return step.step.run(step.params, {"vocals": output("vocals", vocals=vocals)}, folder)


def test_pocketsphinx_through_the_step_hears_the_right_lyrics_better(vocals, tmp_path):
    album = album_of(tmp_path, {"intelligibility": {"asr": "pocketsphinx"}})
    plan = plan_song(album.songs[0], album)
    assert "intelligibility" in plan.view().metrics and dict(planned(album).sources) == {"vocals": "generate"}
    right = run(album, vocals, tmp_path / "right")
    wrong = run(album_of(tmp_path, {"lyrics": OTHER, "intelligibility": {"asr": "pocketsphinx"}}), vocals,
                tmp_path / "wrong")
    assert set(right.data) == {"per", "wer", "wer_unit"} and right.data["wer_unit"] == "word"
    assert right.data["per"] < 0.65 and wrong.data["per"] > right.data["per"] + 0.2
    record = json.loads(right.path("intelligibility").read_text())
    assert record["lyrics"] == SUNG.capitalize() + "." and record["licence"].startswith("BSD 2-Clause")
    assert record["transcript"] and record["passes"][0]["transcript"] == record["transcript"]
    assert "intelligibility" not in plan_song(album_of(tmp_path).songs[0], album).names  # not asked: not planned


def test_tiny_whisper_through_the_step_keeps_the_lowest_per_of_its_passes(vocals, tiny_whisper, tmp_path):
    settings = {"asr": str(tiny_whisper), "passes": 3, "temperature_step": 0.5}
    album = album_of(tmp_path, {"language": "ja", "intelligibility": settings})
    params = planned(album).params
    assert params.language == "ja" and not params.asr_identity.endswith("absent")
    done = run(album, vocals, tmp_path / "song")
    record = json.loads(done.path("intelligibility").read_text())
    passes = record["passes"]
    assert [(p["temperature"], p["seed"]) for p in passes] == [(0.0, 0), (0.5, 1), (1.0, 2)]
    assert len({p["transcript"] for p in passes}) > 1  # sampling changed what was heard
    best = min(passes, key=lambda p: p["per"])
    assert done.data["per"] == best["per"] and done.data["wer"] == best["wer"]
    assert record["transcript"] == best["transcript"] and done.data["wer_unit"] == "character"


def test_a_song_without_lyrics_gets_no_per_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))  # no ASR anywhere: none is needed
    album = album_of(tmp_path, {"lyrics": "[intro]\n\n[inst]\n\n[outro]\n", "intelligibility": {}})
    done = planned(album).step.run(planned(album).params, {}, tmp_path / "song")
    assert done.data["per"] is None and done.data["wer"] is None and "instrumental" in done.data["per_note"]


def test_a_song_asking_for_whisper_not_pulled_is_refused_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))
    album = album_of(tmp_path, defaults={"intelligibility": {"passes": 4}})
    assert planned(album).params.settings.asr == WHISPER and planned(album).params.asr_identity.endswith("absent")
    with pytest.raises(EngineError) as error:
        check_album(album)
    assert f"songforge models pull {WHISPER}" in str(error.value) and "'One'" in str(error.value)
    check_album(album_of(tmp_path, {"intelligibility": {"asr": "pocketsphinx"}}))  # ships its model


def test_pocketsphinx_is_refused_for_a_song_not_in_english_before_anything_runs(tmp_path):
    with pytest.raises(ParamsError, match="pocketsphinx, which hears English only"):
        check_album(album_of(tmp_path, {"language": "ko", "lyrics": "[verse]\n사랑해\n",
                                        "intelligibility": {"asr": "pocketsphinx"}}), models=False)


def test_licences_and_bad_settings(tiny_whisper, tmp_path):
    check_album(album_of(tmp_path, {"intelligibility": {}}, commercial=True), models=False)  # Whisper: MIT
    with pytest.raises(ParamsError, match="step 'intelligibility' uses tiny-whisper, whose terms nobody has checked"):
        check_album(album_of(tmp_path, {"intelligibility": {"asr": str(tiny_whisper)}}, commercial=True),
                    models=False)
    with pytest.raises(ParamsError) as error:
        album_of(tmp_path, {"intelligibility": {"passes": 0}})
    assert "songs[0].intelligibility.passes" in str(error.value) and "Fix:" in str(error.value)
