"""`songforge measure FILE` through the CLI runner: the table, and plain words for an over-peaked or clipped master."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from app.cli import app
from songforge.measure.advice import peak_warnings
from songforge.measure.metrics import measure_file

RATE = 44_100


def chord(seconds: float = 3.0, gain: float = 0.5) -> np.ndarray:
    """Stereo A major triad peaking at `gain` (float32, (samples, 2))."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63))
    tone = gain * tone / np.abs(tone).max()
    return np.stack([tone, tone], axis=1).astype(np.float32)


def run(*args: str):
    return CliRunner().invoke(app, ["measure", *map(str, args)])


def test_a_clipped_file_is_named_in_plain_words(tmp_path):
    clipped = np.clip(chord(gain=1.6), -1.0, 1.0)  # driven 4 dB into the ceiling, flat-topped at full scale
    path = tmp_path / "clipped.wav"
    sf.write(path, clipped, RATE, subtype="PCM_16")
    measured = measure_file(path)
    assert measured.clipped_samples > 1000 and measured.true_peak_dbtp > 0.0
    result = run(path)
    assert result.exit_code == 0, result.output
    assert f"{measured.clipped_samples:,} clipped samples" in result.output
    assert f"true peak {measured.true_peak_dbtp:+.1f} dBTP: above 0 dBTP, it will distort after lossy encoding" \
        in result.output
    assert "lower the master's ceiling" in result.output


def test_an_inter_sample_peak_above_zero_dbtp_without_clipping_is_named(tmp_path):
    # A sine at a quarter of the rate, phased so every sample sits at 0.707 of its peak: samples at -0.1 dBFS
    # (no clipping) while the waveform between them reaches +2.9 dBTP.
    n = np.arange(RATE)
    wave = np.sin(2 * np.pi * n / 4 + np.pi / 4) * (10 ** (-0.1 / 20) / np.sin(np.pi / 4))
    path = tmp_path / "hot.wav"
    sf.write(path, np.stack([wave, wave], axis=1).astype(np.float32), RATE, subtype="FLOAT")
    result = run(path, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["clipped_samples"] == 0 and metrics["true_peak_dbtp"] > 2.5
    assert "above 0 dBTP" in result.stderr and "clipped samples" not in result.stderr


def test_a_clean_master_gets_no_warning(tmp_path):
    path = tmp_path / "clean.wav"
    sf.write(path, chord(gain=0.5), RATE, subtype="FLOAT")
    result = run(path)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and "bandwidth_hz" in result.output and "rolloff_99_hz" in result.output
    assert peak_warnings(measure_file(path)) == []
