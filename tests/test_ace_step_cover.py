"""ACE-Step's cover task as a song's render (`engine.params.cover_of`, `cover_strength`), on the tiny random
AceStepPipeline saved and loaded by the engine's own loader: our render equals diffusers' pipeline called
directly with the cover's arguments, a cover is not text2music of the same song, and the covered file's content
(not its path) is in the render's cache key."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from ace_step_tiny import write_tiny_ace_step

from songforge.audio.io import read_audio, write_wav
from songforge.engine.ace_step.steps import RENDER, render_call
from songforge.errors import ParamsError
from songforge.params import SongSpec, engine_params

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"
RATE = 48000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_ace_step(tmp_path_factory.mktemp("models") / "tiny-ace")


@pytest.fixture(scope="module")
def covered(tmp_path_factory) -> Path:
    """A 12 s stereo 'song' to cover: a chord with a pulse (longer than the 10 s song: it is cut)."""
    t = np.arange(12 * RATE) / RATE
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0))
    audio = (0.2 * np.stack([tone, np.roll(tone, 100)], axis=1)).astype(np.float32)
    return write_wav(tmp_path_factory.mktemp("audio") / "original.wav", audio, RATE, "FLOAT")


def song_of(model: Path, seed: int = 0, **params) -> SongSpec:
    return SongSpec(title="Lanterns", lyrics=LYRICS, duration_s=10, seed=seed, bpm=96, key="F# minor",
                    genre=["dreamy synth-pop"], voice=["breathy female vocal"],
                    engine={"name": "ace-step", "params": {"model": str(model), "inference_steps": 3, **params}})


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio))))


def test_a_cover_equals_the_pipeline_called_directly_and_differs_from_text2music(tiny, covered, tmp_path,
                                                                               monkeypatch):
    from diffusers import AceStepPipeline
    from diffusers.models.autoencoders.autoencoder_oobleck import OobleckDiagonalGaussianDistribution as Posterior

    song = song_of(tiny, seed=7, cover_of=str(covered), cover_strength=0.7)
    ours, rate = read_audio(RENDER.run(render_call(song), {}, tmp_path / "cover", None).path("engine_mix"))

    direct = AceStepPipeline.from_pretrained(tiny)  # as diffusers' documentation calls the cover task
    source, _ = read_audio(covered, RATE)
    # The one seeding the direct call needs besides its generator: diffusers' pipeline samples the VAE's encoding
    # of the source with `latent_dist.sample()`, no generator given (torch's global one); our render gives that
    # sampling a CPU generator seeded with the take's seed (render.vae_seeded), so the direct call gets the same.
    noise, draw = torch.Generator("cpu").manual_seed(7), Posterior.sample
    monkeypatch.setattr(Posterior, "sample", lambda self, generator=None: draw(self, generator=generator or noise))
    theirs = direct(prompt="dreamy synth-pop, breathy female vocal", lyrics=song.lyrics, audio_duration=10.0,
                    vocal_language="en", num_inference_steps=3, bpm=96, keyscale="F# minor", timesignature="4",
                    task_type="cover", src_audio=torch.from_numpy(source[:10 * RATE].T.copy()),
                    audio_cover_strength=0.7, generator=torch.Generator().manual_seed(7)).audios[0].numpy().T
    assert rate == RATE and ours.shape == theirs.shape == (10 * RATE, 2)
    np.testing.assert_array_equal(ours, theirs)

    plain = song_of(tiny, seed=7)
    text2music, _ = read_audio(RENDER.run(render_call(plain), {}, tmp_path / "plain", None).path("engine_mix"))
    assert rms(ours - text2music) > 0.05 * rms(text2music)  # the covered audio reaches the DiT


def test_the_covered_files_content_is_in_the_cache_key_not_its_path(tiny, covered, tmp_path):
    """The render's whole cache key (tasks.cache.canonical of its call, as the plan's cached task computes it):
    the same for a copy of the covered file at another path, another for other content at the same path."""
    from tasks.cache import canonical

    moved = shutil.copy(covered, tmp_path / "moved.wav")
    first, same = (canonical(render_call(song_of(tiny, cover_of=str(path)))) for path in (covered, moved))
    assert first == same
    write_wav(moved, np.zeros((RATE, 2), np.float32), RATE)  # replaced at the same path: a new take
    assert canonical(render_call(song_of(tiny, cover_of=str(moved)))) != first
    assert "cover_of" not in render_call(song_of(tiny)).inputs


def test_cover_strength_without_a_cover_changes_no_key(tiny, covered):
    from tasks.cache import canonical

    plain, strength = (render_call(song_of(tiny, **extra)) for extra in ({}, {"cover_strength": 0.3}))
    assert canonical(plain) == canonical(strength) and plain.identity == strength.identity
    assert canonical(render_call(song_of(tiny, cover_of=str(covered), cover_strength=0.3))) != canonical(plain)


def test_a_missing_cover_or_a_strength_out_of_range_is_named(tmp_path):
    with pytest.raises(ParamsError, match="engine.params.cover_of: '.*no.wav' does not exist"):
        engine_params("ace-step", {"cover_of": str(tmp_path / "no.wav")})
    with pytest.raises(ParamsError, match="engine.params.cover_strength: Input should be less than or equal to 1"):
        engine_params("ace-step", {"cover_strength": 1.5})
