"""The refined vocal is sample-aligned with the vocal it refines: on tone bursts with sharp onsets, the onsets of
input and output line up within one 10 ms frame and the lengths (and channels) are equal, in one pass and in
overlapping windows, at 40 and 48 kHz voices and a 44.1 kHz stem; a delay injected into the pipeline is caught.

The voice is a probe (tests/rvc_tiny.py: the real layout, its generator passing the NSF excitation straight
through) and the F0 comes from an ideal tracker reading the bursts' own frames: no real tracker resolves time
to a frame (crepe's window is 64 ms) and no random-weight network carries onsets, so these stand in for them
here; everything else is the real pipeline (16 kHz analysis, ContentVec, index, synthesis, resampling, joins).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from rvc_tiny import REAL_40K, REAL_48K, probe, tiny, write_contentvec, write_index, write_voice
from songforge.voice.rvc import pipeline
from songforge.voice.rvc.chunks import MIN_PASS_FRAMES, OVERLAP_FRAMES, pass_frames, windows
from songforge.voice.rvc.features import load_contentvec
from songforge.voice.rvc.index import load_index
from songforge.voice.rvc.pipeline import Models, Refinement, refine_vocal
from songforge.voice.rvc.voice import load_voice

RATE = 44100
ONSETS_S = (0.503, 1.317, 2.121, 2.926)  # off the 10 ms grid, on purpose
FRAME_S = 0.010
NO_ENVELOPE = Refinement(rms_mix_rate=1.0)  # RVC's 1: the output keeps its own envelope (0 would copy the input's)


def bursts(seconds: float = 4.0) -> np.ndarray:
    """Stereo 220 Hz tone bursts of 0.5 s starting at ONSETS_S, silence between."""
    t = np.arange(int(RATE * seconds)) / RATE
    mono = np.zeros_like(t)
    for onset in ONSETS_S:
        on = (t >= onset) & (t < onset + 0.5)
        mono[on] = 0.5 * np.sin(2 * np.pi * 220 * (t[on] - onset))
    return np.stack([mono, 0.8 * mono], axis=1).astype(np.float32)


def ideal_tracker(hz: float = 220.0):
    """`hz` on each frame (centred on sample 160 j, as every tracker's) that holds the tone, else unvoiced."""

    def track(audio: np.ndarray) -> np.ndarray:
        frames = audio.shape[0] // 160 + 1
        padded = np.pad(audio, (80, 160 * frames - audio.shape[0]))
        rms = np.sqrt((padded[:160 * frames].reshape(frames, 160) ** 2).mean(axis=1))
        return np.where(rms > 0.1 * rms.max(), hz, 0.0)

    return track


def onsets_s(audio: np.ndarray, rate: int) -> np.ndarray:
    """Times where the 150-300 Hz band (the tone; zero-phase filtered, so not moved) rises through the middle of its
    quiet and loud levels, on 2.5 ms hops."""
    band = sosfiltfilt(butter(4, [150, 300], "bandpass", fs=rate, output="sos"), audio.astype(np.float64))
    hop = rate // 400
    level = np.sqrt((band[:band.size // hop * hop].reshape(-1, hop) ** 2).mean(axis=1))
    middle = (np.percentile(level, 10) + np.percentile(level, 90)) / 2
    return (np.flatnonzero((level[1:] > middle) & (level[:-1] <= middle)) + 1) * hop / rate


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rvc")
    return load_contentvec(write_contentvec(folder / "contentvec")), load_index(write_index(folder / "voice.index"))


def probe_models(shared, tmp_path, config, hz: float = 220.0) -> Models:
    contentvec, index = shared
    voice = load_voice(write_voice(tmp_path / "voice.pth", tiny(config), model=probe(tiny(config))))
    return Models(contentvec, ideal_tracker(hz), voice, index)


def misalignment_s(models: Models, longest_pass: int | None = None) -> float:
    stem = bursts()
    refined = refine_vocal(stem, RATE, models, NO_ENVELOPE, longest_pass=longest_pass)
    assert refined.shape == stem.shape and refined.dtype == np.float32
    found, expected = onsets_s(refined[:, 0], RATE), onsets_s(stem[:, 0], RATE)
    assert found.size == expected.size == len(ONSETS_S), (found, expected)
    return float(np.abs(found - expected).max())


@pytest.mark.parametrize("config", [REAL_40K, REAL_48K], ids=["40k", "48k"])
@pytest.mark.parametrize("longest_pass", [None, 420], ids=["one-pass", "windows"])
def test_onsets_line_up_within_a_frame_and_lengths_are_equal(shared, tmp_path, config, longest_pass):
    assert misalignment_s(probe_models(shared, tmp_path, config), longest_pass) <= FRAME_S


def test_a_delay_injected_into_the_pipeline_is_caught(shared, tmp_path, monkeypatch):
    """The control: 25 ms of uncompensated latency in the synthesis (as a resampler's or a padding's would be)."""
    models = probe_models(shared, tmp_path, REAL_40K)
    delay = int(0.025 * models.voice.sample_rate)
    synthesize = pipeline.synthesize
    monkeypatch.setattr(pipeline, "synthesize",
                        lambda *args: np.concatenate([np.zeros(delay, np.float32), synthesize(*args)[:-delay]]))
    assert misalignment_s(models) > FRAME_S


def test_a_window_join_keeps_the_level(shared, tmp_path):
    """Windows crossfade where they overlap, their excitations in phase: a steady note through windows keeps a
    steady level. At 220.71 Hz, windows 0.7 s apart would start their sines half a cycle apart, and cancel."""
    models = probe_models(shared, tmp_path, REAL_40K, hz=220.71)
    t = np.arange(RATE * 6) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 220.71 * t)).astype(np.float32)
    refined = refine_vocal(tone, RATE, models, NO_ENVELOPE, longest_pass=320)  # windows of 1.2 s, 0.5 s shared
    band = sosfiltfilt(butter(4, [150, 300], "bandpass", fs=RATE, output="sos"), refined.astype(np.float64))
    level = np.sqrt((band[RATE // 2:-RATE // 2].reshape(-1, RATE // 20) ** 2).mean(axis=1))  # 50 ms steps
    assert level.min() > 0.8 * np.median(level) and level.max() < 1.2 * np.median(level)


@pytest.mark.parametrize("frames, longest", [(1000, 300), (551, 300), (560, 300), (300, 300), (50, 300)])
def test_windows_cover_every_frame_and_neighbours_share_the_overlap(frames, longest):
    spans = windows(frames, longest)
    assert spans[0][0] == 0 and spans[-1][1] == frames and all(end - start <= longest for start, end in spans)
    assert all(before[1] - after[0] == OVERLAP_FRAMES for before, after in zip(spans, spans[1:]))
    assert len(spans) == 1 or frames > longest


@pytest.mark.parametrize("free", [1 << 30, 16 << 30, 80 << 30])
def test_a_pass_is_the_longest_that_fits_half_the_free_memory(monkeypatch, free):
    import torch

    from songforge.voice.rvc import chunks

    monkeypatch.setattr(chunks, "free_bytes", lambda device: free)
    frames = pass_frames(torch.device("cpu"))
    assert chunks.pass_bytes(frames) <= free / 2 < chunks.pass_bytes(frames + 1)
    assert pass_frames(torch.device("cpu")) >= MIN_PASS_FRAMES
