"""What the separation tests share: real audio (the sketch engine's stems, mixed), the tiny Roformer in a models
folder, and a guard that turns any network request into a failure (loading must never download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songforge.audio.io import write_wav

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"
TINY = "tiny-roformer"


def sketch_stems(duration_s: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray, int]:
    """(vocals, instrumental, rate): a sketch song's own stems, float32 stereo, equal length."""
    from songforge.params import SongSpec

    song = SongSpec(title="Separated", lyrics=LYRICS, duration_s=duration_s, seed=seed)
    stems = song.engine.engine.generate(song, song.engine.params, song.seed)
    return stems.vocals, stems.instrumental, stems.sample_rate


def sketch_mix(folder: Path, duration_s: float, peak: float = 0.45) -> tuple[Path, np.ndarray, int]:
    """The stems summed and scaled to `peak`, written as a float WAV: (path, mix, rate)."""
    vocals, instrumental, rate = sketch_stems(duration_s)
    mix = vocals + instrumental
    mix = (mix * (peak / np.abs(mix).max())).astype(np.float32)
    return write_wav(Path(folder) / "mix.wav", mix, rate, "FLOAT"), mix, rate


@pytest.fixture
def no_network(monkeypatch):
    """Every HTTP request through requests (audio-separator's downloads) fails the test instead of going out."""
    import requests

    def refuse(self, method, url, *args, **kwargs):
        raise AssertionError(f"a network request during a separation: {method} {url}")

    monkeypatch.setattr(requests.sessions.Session, "request", refuse)


@pytest.fixture
def tiny_models(tmp_path, monkeypatch) -> Path:
    """SONGFORGE_MODELS with the tiny Roformer as a folder of one's own named TINY (its list beside it)."""
    from songforge.separation.tiny import write_tiny_roformer

    root = tmp_path / "models"
    monkeypatch.setenv("SONGFORGE_MODELS", str(root))
    monkeypatch.delenv("AUDIO_SEPARATOR_MODEL_DIR", raising=False)
    write_tiny_roformer(root / TINY)
    return root
