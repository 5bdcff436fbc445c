"""Read and write audio files; every write is atomic (temp name, then rename)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError
from ..paths import atomic_path


def read_audio(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read any file libsndfile knows (wav, flac, ogg, mp3) as float32 (samples, channels).

    With `sample_rate`, resample to it (soxr, high quality).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file. Fix: check the path (relative paths are read from the params file's folder).")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: cannot be read as audio ({error}). Fix: convert it to WAV or FLAC.") from error
    if sample_rate and rate != sample_rate:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return audio, rate


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample (samples, channels) float32 audio."""
    import soxr

    if from_rate == to_rate:
        return audio
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sndfile.h; soundfile does not name it


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_24") -> Path:
    """Write (samples, channels) audio as WAV (24-bit by default; 'FLOAT' for intermediates).

    The same audio always gives the same bytes: libsndfile's PEAK chunk, which float WAVs carry by
    default, holds the time of writing, and would make every downstream stage and hash change.
    """
    audio = np.asarray(audio, dtype=np.float32)
    with atomic_path(Path(path)) as tmp:
        with sf.SoundFile(str(tmp), "w", sample_rate, audio.shape[1] if audio.ndim == 2 else 1,
                          subtype=subtype, format="WAV") as f:
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, sf._snd.SF_FALSE)
            f.write(audio)
    return Path(path)


def write_mp3(path: Path, audio: np.ndarray, sample_rate: int, quality: float = 0.3) -> Path:
    """Write a compressed preview (MP3 through libsndfile; quality 0 = best, 1 = smallest)."""
    with atomic_path(Path(path)) as tmp:
        with sf.SoundFile(str(tmp), "w", sample_rate, audio.shape[1], format="MP3",
                          subtype="MPEG_LAYER_III", compression_level=quality) as f:
            f.write(np.clip(audio, -1.0, 1.0).astype(np.float32))
    return Path(path)


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, 1|2) -> (samples, 2)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    if audio.shape[1] != 2:
        raise AudioError(f"expected mono or stereo audio, got {audio.shape[1]} channels. Fix: downmix to stereo first.")
    return audio


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(samples, channels) -> (samples,), the mean of the channels."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio if audio.ndim == 1 else audio.mean(axis=1)
