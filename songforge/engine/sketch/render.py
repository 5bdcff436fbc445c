"""Render tracks through the General MIDI SoundFont pretty_midi ships (TinySoundFont), then set levels."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

import numpy as np

from ...errors import EngineError
from ...audio.loudness import integrated_lufs
from .arrangement import Arrangement, Track

SOUNDFONT_NAME = "TimGM6mb.sf2"
PEAK_DBFS = -1.0
FADE_IN_S = 0.005
FADE_OUT_S = 0.3
REFERENCE_LUFS = -20.0  # parts are mixed around this before the final peak normalisation
_PAN_CC = 10
_SOUNDFONT_GAIN_DB = -6.0  # headroom inside the synth; levels are set afterwards
_BYTES_PER_FRAME = 8  # stereo float32


def soundfont_path() -> str:
    """The GM SoundFont bundled with pretty_midi; EngineError when the install lacks it."""
    import pretty_midi

    path = os.path.join(os.path.dirname(pretty_midi.__file__), SOUNDFONT_NAME)
    if not os.path.isfile(path):
        raise EngineError(f"sketch engine: the SoundFont {path} is missing. Fix: reinstall pretty_midi "
                          "(pip install --force-reinstall pretty_midi), which ships it.")
    return path


@lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    with open(soundfont_path(), "rb") as handle:
        return handle.read()


@lru_cache(maxsize=1)
def soundfont_sha256() -> str:
    """Digest of the SoundFont file: a different SoundFont renders a different song."""
    return hashlib.sha256(_soundfont_bytes()).hexdigest()


def render_track(track: Track, bpm: float, n_samples: int, sample_rate: int) -> np.ndarray:
    """Float32 (n_samples, 2) audio of one track at `sample_rate`, sample-accurate note on/offs, panned."""
    import tinysoundfont

    synth = tinysoundfont.Synth(gain=_SOUNDFONT_GAIN_DB, samplerate=sample_rate)
    sfid = synth.sfload(_soundfont_bytes())
    synth.program_select(track.channel, sfid, 128 if track.is_drum else 0, 0 if track.is_drum else track.program,
                         track.is_drum)
    synth.control_change(track.channel, _PAN_CC, track.pan)
    buffer = memoryview(bytearray(n_samples * _BYTES_PER_FRAME))
    done = 0
    for sample, is_on, pitch, velocity in _events(track, bpm, sample_rate, n_samples):
        if sample > done:
            synth.generate_simple(sample - done, buffer=buffer[done * _BYTES_PER_FRAME: sample * _BYTES_PER_FRAME])
            done = sample
        if is_on:
            synth.noteon(track.channel, pitch, velocity)
        else:
            synth.noteoff(track.channel, pitch)
    if done < n_samples:
        synth.generate_simple(n_samples - done, buffer=buffer[done * _BYTES_PER_FRAME:])
    return np.frombuffer(buffer, dtype=np.float32).reshape(n_samples, 2).copy()


def _events(track: Track, bpm: float, sample_rate: int, n_samples: int) -> list[tuple[int, int, int, int]]:
    """(sample, on?, pitch, velocity) sorted by time, note-offs before note-ons at a sample."""
    samples_per_beat = sample_rate * 60.0 / bpm
    events = []
    for note in track.notes:
        on = min(n_samples, int(round(note.beat * samples_per_beat)))
        off = min(n_samples, max(on + 1, int(round(note.end_beat * samples_per_beat))))
        events += [(on, 1, note.pitch, note.velocity), (off, 0, note.pitch, 0)]
    return sorted(events)


def n_samples_of(arrangement: Arrangement, sample_rate: int) -> int:
    """The song's length in samples (both stems have it)."""
    return int(round(arrangement.duration_s * sample_rate))


def render_stems(arrangement: Arrangement, sample_rate: int, vocal_balance_db: float,
                 reverb_wet: float, sung: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(vocals, instrumental) float32 (samples, 2): parts at their levels, faded, the sum peaking at PEAK_DBFS.

    Each part is set by loudness, not by MIDI volume, because the SoundFont's presets differ by
    tens of dB; the vocal sits `vocal_balance_db` LU from the instrumental. `sung`: a vocal sung
    elsewhere (singer.py), (n_samples_of(...), 2), in place of the vocal track's GM voice.
    """
    n_samples = n_samples_of(arrangement, sample_rate)
    instrumental = np.zeros((n_samples, 2), dtype=np.float32)
    for track in arrangement.instruments:
        audio = render_track(track, arrangement.bpm, n_samples, sample_rate)
        instrumental += audio * _gain_to(audio, sample_rate, REFERENCE_LUFS + track.level_db)
    if reverb_wet > 0:
        instrumental = _room(instrumental, sample_rate, reverb_wet)
    vocals = render_track(arrangement.vocal, arrangement.bpm, n_samples, sample_rate) if sung is None else sung.copy()
    band_lufs = integrated_lufs(instrumental, sample_rate)
    band_lufs = band_lufs if np.isfinite(band_lufs) else REFERENCE_LUFS
    vocals *= _gain_to(vocals, sample_rate, band_lufs + vocal_balance_db)
    peak = max(float(np.max(np.abs(a))) for a in (vocals, instrumental, vocals + instrumental))
    fade = _fade(n_samples, sample_rate) * np.float32(10 ** (PEAK_DBFS / 20) / max(peak, 1e-9))
    return (vocals * fade).astype(np.float32), (instrumental * fade).astype(np.float32)


def _room(audio: np.ndarray, sample_rate: int, wet: float) -> np.ndarray:
    """A small room on the instrumental (the SoundFont synth is dry)."""
    from pedalboard import Reverb

    room = Reverb(room_size=0.35, damping=0.6, wet_level=wet, dry_level=1.0, width=1.0)
    return room(audio.T.copy(), sample_rate).T.astype(np.float32)


def _gain_to(audio: np.ndarray, sample_rate: int, target_lufs: float) -> np.float32:
    """Gain that brings `audio` to `target_lufs` (1 for silence, e.g. a part with no notes)."""
    lufs = integrated_lufs(audio, sample_rate)
    return np.float32(10 ** ((target_lufs - lufs) / 20) if np.isfinite(lufs) else 1.0)


def _fade(n_samples: int, sample_rate: int) -> np.ndarray:
    """(n_samples, 1) gain ramp: a few ms in, FADE_OUT_S out, so the ends never click."""
    ramp = np.ones(n_samples, dtype=np.float32)
    n_in, n_out = min(n_samples, int(FADE_IN_S * sample_rate)), min(n_samples, int(FADE_OUT_S * sample_rate))
    ramp[:n_in] = np.linspace(0, 1, n_in, dtype=np.float32)
    ramp[n_samples - n_out:] *= np.linspace(1, 0, n_out, dtype=np.float32)
    return ramp[:, None]
