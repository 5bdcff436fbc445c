"""Mixing and mastering on synthesised stems, and on the YuE prompt example's stems when /work/shared is here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songforge.audio.dsp import NEAR_MONO_WIDTH, limit_true_peak, sample_peak_dbfs
from songforge.audio.io import read_audio, to_stereo
from songforge.audio.loudness import integrated_lufs, true_peak_dbtp
from songforge.audio.master import master
from songforge.audio.mix import instrumental_chain, mix_stems
from songforge.audio.spectrum import stereo_width
from songforge.errors import AudioError
from songforge.params import MasterSpec, MixSpec

SR = 44100
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "yue" / "data" / "prompt_egs"
needs_examples = pytest.mark.skipif(not (EXAMPLES / "pop.00001.mp3").is_file(),
                                    reason=f"the YuE prompt examples are not at {EXAMPLES} (../shared is absent)")


def synth_instrumental(seconds: float = 6.0, stereo: bool = True, seed: int = 0) -> np.ndarray:
    """A chord with harmonics panned apart, kick-like thumps and hi-hat noise bursts; peak 0.95."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    notes = [110.0, 220.0, 277.18, 329.63, 440.0]
    voices = [sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6)) / k**1.5 for k in range(1, 6)) for f in notes]
    beat = (t % 0.5) / 0.5
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-beat * 25)
    hat = rng.standard_normal(t.size) * np.exp(-((t + 0.25) % 0.5) * 60) * 0.3
    if stereo:
        left = sum(v * p for v, p in zip(voices, [0.9, 0.2, 0.7, 0.3, 0.8])) + kick + 0.7 * hat
        right = sum(v * (1 - p) for v, p in zip(voices, [0.9, 0.2, 0.7, 0.3, 0.8])) + kick + 0.3 * hat
        audio = np.stack([left, right], axis=1)
    else:
        audio = (sum(voices) / 2 + kick + hat)[:, None]
    return (0.95 * audio / np.max(np.abs(audio))).astype(np.float32)


def synth_vocals(seconds: float = 6.0) -> np.ndarray:
    """A sung-like line: a melody with vibrato and harmonics, in syllables with gaps; mono, peak 0.95."""
    t = np.arange(int(seconds * SR)) / SR
    melody = np.array([220.0, 246.94, 261.63, 293.66, 329.63, 293.66, 261.63, 246.94])
    f0 = melody[(t / 0.45).astype(int) % melody.size] * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = np.clip(np.sin(np.pi * (t % 0.45) / 0.35), 0, None) * ((t % 0.45) < 0.35)
    vocals = tone * syllables
    return (0.95 * vocals / np.max(np.abs(vocals))).astype(np.float32)


@pytest.fixture(scope="module")
def synth_mix() -> np.ndarray:
    """About -24 LUFS: every target below needs gain, so the limiter has work to do."""
    return (0.25 * mix_stems(synth_vocals(8.0), synth_instrumental(8.0), SR, MixSpec())).astype(np.float32)


def test_mix_has_headroom_and_no_clipping():
    mix = mix_stems(synth_vocals(), synth_instrumental(), SR, MixSpec(vocals_gain_db=6, instrumental_gain_db=6))
    assert mix.dtype == np.float32 and mix.shape == (6 * SR, 2)
    assert np.all(np.isfinite(mix))
    assert sample_peak_dbfs(mix) < -1.0


def test_mix_pads_the_shorter_stem():
    mix = mix_stems(synth_vocals(3.0), synth_instrumental(5.0), SR, MixSpec())
    assert mix.shape == (5 * SR, 2)


@needs_examples
def test_mix_of_real_stems_has_headroom():
    vocals, rate = read_audio(EXAMPLES / "pop.00001.Vocals.mp3")
    instrumental, _ = read_audio(EXAMPLES / "pop.00001.Instrumental.mp3", rate)
    mix = mix_stems(vocals[: 10 * rate], instrumental[: 10 * rate], rate, MixSpec())
    assert sample_peak_dbfs(mix) < -1.0
    assert stereo_width(mix) > NEAR_MONO_WIDTH  # the separated instrumental is near mono; the mix is not


def test_width_grows_with_spec_width():
    silence = np.zeros((6 * SR, 1), dtype=np.float32)
    instrumental = synth_instrumental()
    widths = [stereo_width(mix_stems(silence, instrumental, SR, MixSpec(width=w))) for w in (0.0, 0.6, 1.2, 2.0)]
    assert widths[0] < 1e-6
    assert all(a < b for a, b in zip(widths, widths[1:])), widths


def test_mono_instrumental_gets_width_and_keeps_its_mono_fold_down():
    mono = synth_instrumental(stereo=False)
    wide = instrumental_chain(np.repeat(mono, 2, axis=1), SR, MixSpec(width=1.2))
    narrow = instrumental_chain(np.repeat(mono, 2, axis=1), SR, MixSpec(width=0.0))
    assert stereo_width(wide) > NEAR_MONO_WIDTH
    np.testing.assert_allclose(wide.mean(axis=1), narrow.mean(axis=1), atol=1e-5)


def test_limiter_holds_the_ceiling_in_the_true_peak_domain():
    # a quarter-sample-rate sine at 45 degrees: samples at 0.707 (-3 dBFS), true peak 1.0 (0 dBTP)
    n = np.arange(2 * SR)
    audio = np.repeat(np.sin(np.pi / 2 * n + np.pi / 4)[:, None], 2, axis=1).astype(np.float32)
    assert sample_peak_dbfs(audio) < -1.0 < true_peak_dbtp(audio, SR)
    assert true_peak_dbtp(limit_true_peak(audio, SR, ceiling_dbtp=-1.0), SR) <= -1.0


def test_limiter_gain_moves_smoothly():
    audio = 3.0 * synth_instrumental(2.0)  # about +9 dB over full scale: heavy limiting
    limited = limit_true_peak(audio, SR, ceiling_dbtp=-1.0)
    audible = np.abs(audio[:, 0]) > 1e-2
    gain_db = 20 * np.log10(limited[audible, 0] / audio[audible, 0])
    steps = np.arange(audio.shape[0])[audible]
    assert gain_db.min() < -6.0
    assert np.max(np.abs(np.diff(gain_db)) / np.diff(steps)) < 0.1  # dB per sample: no clicks


def test_limiter_leaves_audio_under_the_ceiling_alone():
    audio = 0.5 * synth_instrumental(2.0)
    np.testing.assert_array_equal(limit_true_peak(audio, SR, ceiling_dbtp=-1.0), audio)


@pytest.mark.parametrize("target_lufs, ceiling_dbtp", [(-14.0, -1.0), (-9.0, -1.0), (-14.0, -2.0)])
def test_master_to_loudness_target(synth_mix, target_lufs, ceiling_dbtp):
    result = master(synth_mix, SR, MasterSpec(target_lufs=target_lufs, true_peak_dbtp=ceiling_dbtp))
    assert result.mode == "loudness" and result.audio.shape == synth_mix.shape
    assert abs(integrated_lufs(result.audio, SR) - target_lufs) <= 0.5
    assert true_peak_dbtp(result.audio, SR) <= ceiling_dbtp
    assert result.output_lufs == pytest.approx(integrated_lufs(result.audio, SR))
    assert result.input_lufs == pytest.approx(integrated_lufs(synth_mix, SR))


@needs_examples
@pytest.mark.parametrize("target_lufs", [-14.0, -9.0])
def test_master_real_song_to_loudness_target(target_lufs):
    song, rate = read_audio(EXAMPLES / "pop.00001.mp3")
    result = master(0.5 * song[: 15 * rate], rate, MasterSpec(target_lufs=target_lufs))
    assert abs(integrated_lufs(result.audio, rate) - target_lufs) <= 0.5
    assert true_peak_dbtp(result.audio, rate) <= -1.0


def loud_reference(path: Path, rate: int = 48000) -> Path:
    """A loud, mono reference at another sample rate: exercises resampling and mono handling."""
    t = np.arange(8 * rate) / rate
    partials = sum(a * np.sin(2 * np.pi * f * t) for f, a in [(98, 1.0), (392, 0.5), (1568, 0.3)])
    music = np.tanh(3 * partials)
    music *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t) ** 2
    sf.write(path, (0.5 * music / np.max(np.abs(music))).astype(np.float32), rate)
    return path


def test_master_to_reference_moves_loudness_toward_it(tmp_path, synth_mix, capfd):
    reference = loud_reference(tmp_path / "reference.wav")
    quiet = (0.1 * synth_mix).astype(np.float32)
    result = master(quiet, SR, MasterSpec(reference=reference))
    audio, rate = read_audio(reference)
    reference_lufs = integrated_lufs(to_stereo(audio), rate)  # played as dual mono: +3 dB over one channel
    assert result.mode == "reference" and result.audio.shape == quiet.shape
    assert result.reference_lufs == pytest.approx(reference_lufs, abs=0.2)
    assert abs(result.output_lufs - reference_lufs) < abs(result.input_lufs - reference_lufs) - 6
    assert true_peak_dbtp(result.audio, SR) <= -1.0
    assert capfd.readouterr().out == ""  # Matchering's chatter goes to logging, not the terminal


@needs_examples
def test_master_real_mix_to_real_reference():
    vocals, rate = read_audio(EXAMPLES / "pop.00001.Vocals.mp3")
    instrumental, _ = read_audio(EXAMPLES / "pop.00001.Instrumental.mp3", rate)
    mix = 0.3 * mix_stems(vocals[: 15 * rate], instrumental[: 15 * rate], rate, MixSpec())
    result = master(mix, rate, MasterSpec(reference=EXAMPLES / "pop.00001.mp3", true_peak_dbtp=-1.0))
    assert abs(result.output_lufs - result.reference_lufs) < abs(result.input_lufs - result.reference_lufs)
    assert true_peak_dbtp(result.audio, rate) <= -1.0


@pytest.mark.parametrize("seconds, level, problem", [(1.0, 0.5, "too short"), (6.0, 0.0, "silent")])
def test_unusable_reference_raises_a_clear_error(tmp_path, synth_mix, seconds, level, problem):
    path = tmp_path / "bad.wav"
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR)
    with pytest.raises(AudioError, match=rf"master\.reference.*{problem}.*Fix: point master\.reference"):
        master(synth_mix, SR, MasterSpec(reference=path))


def test_silent_mix_raises_a_clear_error():
    with pytest.raises(AudioError, match=r"too quiet .* to master.*Fix"):
        master(np.zeros((3 * SR, 2), dtype=np.float32), SR, MasterSpec())
