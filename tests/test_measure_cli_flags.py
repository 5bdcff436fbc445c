"""`songforge measure` judges the failure flags it can from files, through the CLI runner: a good sketch song
raises none (all five checked with --vocals and --take), a loop of two bars and a mostly silent file are flagged
in the JSON, the table and in plain words, a vocal that stops halfway ends early, and without a take the voice
flags say what they need."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from app.cli import app
from songforge.album_file import album_from_dict
from songforge.audio.io import write_wav
from songforge.engine.take import write_take
from songforge.flags.flag import FLAG_NAMES

RATE = 44_100
LYRICS = ("[verse]\nLittle light upon the hill\nShining softly, standing still\n"
          "[chorus]\nOh the night is long and wide\nHold the lantern by my side\n"
          "[verse]\nRiver running to the sea\nCarry all my songs for me\n")


def run(*args: object):
    return CliRunner().invoke(app, ["measure", *map(str, args)])


@pytest.fixture(scope="module")
def sketch(tmp_path_factory) -> dict:
    """A good 30 s sketch song: mix.wav, stems/vocals.wav and take.json as the engine writes them."""
    song = album_from_dict({"title": "T", "songs": [{"title": "Lantern", "lyrics": LYRICS, "bpm": 110,
                                                     "duration_s": 30}]}).songs[0]
    stems = song.engine.engine.generate(song, song.engine.params, song.seed)
    folder = tmp_path_factory.mktemp("sketch")
    write_take(stems, folder, "sketch", song.seed)
    write_wav(folder / "mix.wav", stems.vocals + stems.instrumental, stems.sample_rate, "FLOAT")
    return {"folder": folder, "mix": folder / "mix.wav", "vocals": folder / "stems" / "vocals.wav",
            "take": folder / "take.json", "stems": stems}


def test_a_good_sketch_song_raises_no_flag_with_all_five_checked(sketch):
    result = run(sketch["mix"], "--vocals", sketch["vocals"], "--take", sketch["take"], "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["failed"] == 0 and all(metrics[f"flag_{name}"] == 0 for name in FLAG_NAMES), metrics
    assert [flag["name"] for flag in metrics["flags"]] == list(FLAG_NAMES)
    voiceless = next(flag for flag in metrics["flags"] if flag["name"] == "voiceless_sections")["evidence"]
    assert [s["tag"] for s in voiceless["sections"]] == ["verse", "chorus", "verse"]
    assert metrics["lufs"] > -30 and metrics["vocal_range_semitones"] is not None
    assert "failure flag" not in result.stderr


def test_without_a_take_the_voice_flags_say_what_they_need(sketch):
    result = run(sketch["mix"], "--vocals", sketch["vocals"])
    assert result.exit_code == 0, result.output
    assert "flag_loop                no: at most" in result.stdout
    for name in ("ends_early", "voiceless_sections"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"flag_{name} "))
        assert "not checked: needs the song's lyric timeline: pass --take take.json" in line
    metrics = json.loads(run(sketch["mix"], "--json").stdout)
    assert metrics["flag_ends_early"] is None and metrics["flag_voiceless_sections"] is None
    assert metrics["flag_silence"] == metrics["flag_loop"] == metrics["failed"] == 0


def test_two_bars_looped_twenty_times_are_flagged_in_plain_words(sketch, tmp_path):
    stems = sketch["stems"]
    mix = stems.vocals + stems.instrumental
    bars = int(round(2 * 4 * 60 / 110 * RATE))
    start = int(10 * RATE)
    path = tmp_path / "loop.wav"
    write_wav(path, np.tile(mix[start:start + bars], (20, 1)), RATE, "FLOAT")
    result = run(path, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["flag_loop"] == 1 and metrics["failed"] == 1 and metrics["flag_silence"] == 0
    loop = next(flag for flag in metrics["flags"] if flag["name"] == "loop")["evidence"]
    assert 18 <= loop["repeats"] <= 20.5 and loop["period_s"] == pytest.approx(bars / RATE, abs=0.05)
    assert f"failure flag loop: the song is stuck in a loop ({loop['period_s']:.1f} s repeated" in result.stderr
    assert "generate the take again with another seed" in result.stderr
    table = run(path)
    assert f"flag_loop                RAISED: {loop['period_s']:.1f} s repeated" in table.stdout


def test_a_mostly_silent_file_is_flagged(tmp_path):
    t = np.arange(8 * RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    audio = np.concatenate([tone, np.zeros(24 * RATE)])
    path = tmp_path / "silent.wav"
    sf.write(path, np.stack([audio, audio], axis=1).astype(np.float32), RATE, subtype="FLOAT")
    result = run(path, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["flag_silence"] == 1 and metrics["flag_loop"] == 0
    silence = next(flag for flag in metrics["flags"] if flag["name"] == "silence")["evidence"]
    assert silence["silent_share"] > 0.6 and silence["silent_spans_s"][0][1] == pytest.approx(32.0)
    assert "failure flag silence: the song is silent or nearly so" in result.stderr


def test_a_vocal_that_stops_halfway_ends_early_given_the_take(sketch, tmp_path):
    stems = sketch["stems"]
    vocals = stems.vocals.copy()
    vocals[len(vocals) // 2:] = 0.0
    path = tmp_path / "half_vocals.wav"
    write_wav(path, vocals, RATE, "FLOAT")
    result = run(sketch["mix"], "--vocals", path, "--take", sketch["take"], "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["flag_ends_early"] == 1 and metrics["flag_voiceless_sections"] == 1, metrics["flags"]
    assert "failure flag ends_early: the song ends before its lyrics do (the voice stops at" in result.stderr


def test_a_take_that_is_not_json_is_refused_before_any_work(sketch, tmp_path):
    bad = tmp_path / "take.json"
    bad.write_text("engine: sketch\n")
    result = run(sketch["mix"], "--take", bad)
    assert result.exit_code == 2
    assert "--take" in result.stderr and "cannot be read as JSON" in result.stderr
    assert "lufs" not in result.stdout
