"""Separate an array into stems with an audio-separator model, loaded offline from its folder by audio-separator's own
loader (`Separator(model_file_dir=...)`, `load_model`), the audio processed in crossfaded chunks (chunks.py).

audio-separator works on files: each chunk is written as a float WAV at the model's rate, separated by the
Separator, and its stems read back. So a file that fits one chunk gives exactly what audio-separator gives
for it called directly with the same settings (SETTINGS). Chunk starts fall on a Roformer's own window grid,
so away from the seams a chunked result equals the one-pass result.

Levels: audio-separator scales a mix, and each stem, that passes `normalization_threshold` down to it; chunk
by chunk that would change levels at every seam. So the threshold is full scale, and a mix peaking above
HEADROOM is lowered by one constant gain before separation and raised back after.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..audio.dsp import check_audio
from ..audio.io import read_audio, resample, to_stereo, write_wav
from ..device_memory import free_memory
from ..errors import EngineError
from ..step import Progress
from .chunks import chunk_spans, fit_length, join
from .models import checkpoint, new_separator

HEADROOM = 0.5  # a louder mix is lowered to this peak, so that no stem of any chunk passes full scale
SETTINGS = {"output_format": "WAV", "normalization_threshold": 1.0, "use_soundfile": True}
_ARCHITECTURES = {"MDX": "mdx_separator", "VR": "vr_separator", "Demucs": "demucs_separator", "MDXC": "mdxc_separator"}
_STEM = re.compile(r"_\((.+?)\)_")  # audio-separator names its outputs '<input>_(<Stem>)_<model>.wav'


@dataclass(frozen=True)
class Loaded:
    """A model ready to separate: audio-separator's Separator with it loaded, the rate it separates at, the step of
    its own window grid in samples (1 where songforge does not know it), and the folder chunks pass through."""

    name: str
    separator: Any
    sample_rate: int
    align: int
    work: Path


@contextmanager
def loaded(name: str) -> Iterator[Loaded]:
    """The model NAME (songforge.separation.models), loaded for the duration, with a temporary work folder; the
    device memory it held is handed back after (the next step on this GPU slot needs the room)."""
    with tempfile.TemporaryDirectory(prefix="songforge-separate-") as work:
        model = load(name, Path(work))
        try:
            yield model
        finally:
            model.separator.model_instance = None
            del model
            free_memory()


def load(name: str, work: Path) -> Loaded:
    """Load through audio-separator's own loader; its folder is checked first, so nothing downloads."""
    folder, file, architecture = checkpoint(name)
    _importable(name, architecture)
    if os.environ.get("AUDIO_SEPARATOR_MODEL_DIR"):
        raise EngineError("AUDIO_SEPARATOR_MODEL_DIR is set: audio-separator would load models from there instead of "
                          f"{folder}. Fix: unset it (songforge keeps each model in its own folder).")
    separator = new_separator(folder, output_dir=str(work), **SETTINGS)
    separator.load_model(file)
    rate = separator.model_instance.model_data.get("audio", {}).get("sample_rate")
    if rate and int(rate) != separator.sample_rate:  # the model's own rate (audio-separator assumes 44.1 kHz)
        separator.sample_rate = int(rate)
        separator.load_model(file, force_reload=True)
    return Loaded(name, separator, separator.sample_rate, _window_step(separator.model_instance), work)


def _importable(name: str, architecture: str) -> None:
    try:
        import_module(f"audio_separator.separator.architectures.{_ARCHITECTURES.get(architecture, 'mdxc_separator')}")
    except ImportError as error:
        raise EngineError(f"separator model '{name}' is an {architecture} model, whose audio-separator code cannot "
                          f"be imported here ({error}; MDX-Net ONNX models need onnx2torch, which needs torchvision, "
                          "never installed beside songforge's torch). Fix: choose a Roformer, MDX23C, Demucs or VR "
                          "model, e.g. the default bs-roformer-viperx-1297.") from error


def _window_step(instance: Any) -> int:
    """A Roformer's overlap-add window step in samples (audio-separator's MDXC demix), else 1."""
    try:
        if not getattr(instance, "is_roformer", False):
            return 1
        config = instance.model_data_cfgdict
        hop = getattr(config.model, "stft_hop_length", None) or config.audio.hop_length
        return max(1, int(hop) * (int(config.inference.dim_t) - 1) // int(instance.overlap))
    except (AttributeError, KeyError, TypeError, ValueError):
        return 1


def separate(model: Loaded, audio: np.ndarray, sample_rate: int, chunk_s: float = 300.0, overlap_s: float = 4.0,
             progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Every stem the model makes, by lower-case name ('vocals', 'instrumental', 'drums', ...): float32
    (samples, 2) at `sample_rate`, as long as `audio` (samples[, channels]). Chunks of chunk_s seconds sharing
    at least overlap_s (keep chunks over 20 s: audio-separator changes its window for inputs under 10 s)."""
    report = progress or (lambda fraction, what: None)
    mix = resample(to_stereo(check_audio(audio, "the audio to separate")), sample_rate, model.sample_rate)
    gain = max(1.0, float(np.abs(mix).max(initial=0.0)) / HEADROOM)
    rate = model.sample_rate
    spans = chunk_spans(len(mix), round(chunk_s * rate), round(overlap_s * rate), model.align)
    pieces = []
    for n, (start, end) in enumerate(spans):
        report(n / len(spans), f"separating chunk {n + 1} of {len(spans)}")
        pieces.append(_separate_chunk(model, mix[start:end] / gain))
    report(1.0, "separated")
    return {stem: fit_length(resample(join([piece[stem] for piece in pieces], spans) * gain, rate, sample_rate),
                             len(audio)) for stem in pieces[0]}


def _separate_chunk(model: Loaded, chunk: np.ndarray) -> dict[str, np.ndarray]:
    """One chunk through audio-separator's `separate` (a float WAV in, its stem WAVs out and read back)."""
    path = write_wav(model.work / "chunk.wav", chunk, model.sample_rate, "FLOAT")
    stems = {}
    for written in model.separator.separate(str(path)):
        file = model.work / Path(written).name
        found = _STEM.search(file.name)
        if found is None:
            raise EngineError(f"audio-separator wrote {file.name}, not named '<input>_(<stem>)_<model>'. Fix: "
                              "install the audio-separator version scripts/install.sh pins.")
        stems[found.group(1).lower()], _ = read_audio(file)
        file.unlink()
    path.unlink()
    return stems


def pick(stems: dict[str, np.ndarray], asked: Sequence[str], model: str) -> dict[str, np.ndarray]:
    """The asked stems of a separation: those the model made, and 'instrumental' as the sum of every stem but
    the vocals where the model makes several (e.g. Demucs: drums, bass, other). EngineError naming the choice."""
    if "instrumental" in asked and "instrumental" not in stems and "vocals" in stems and len(stems) > 1:
        stems = {**stems, "instrumental": sum(audio for stem, audio in stems.items() if stem != "vocals")}
    missing = [stem for stem in asked if stem not in stems]
    if missing:
        raise EngineError(f"separator model '{model}' makes {', '.join(sorted(stems))}, not {', '.join(missing)}. "
                          "Fix: ask for stems it makes, or name a vocals/instrumental model.")
    return {stem: stems[stem] for stem in asked}
