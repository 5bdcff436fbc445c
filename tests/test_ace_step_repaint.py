"""ACE-Step's repaint, extend and cover through the library (edit.repaint/extend, render.text2music) on the tiny
random AceStepPipeline loaded by the engine's loader, on one torch thread (each call about a second):

- a length that is no whole number of VAE frames (12.005 s: Oobleck's strided convolutions round down to a whole
  hop, 480 samples on the tiny VAE, 1920 on the real one) comes back exactly as long as asked;
- the VAE's sampling of the encoded source draws from the take's own CPU generator: torch's global generator
  reseeded during the call (as another take's call in another thread would) does not change the take;
- a repaint is a fresh draw inside its range: K repaints of a range (different seeds) differ from the original as
  much as K other seeds' takes do (mean within 3 standard errors), and a negative control (the original run
  through the VAE and back, what a repaint that changed nothing would give) fails that criterion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ace_step_tiny import write_tiny_ace_step

from songforge.audio.io import write_wav
from songforge.engine.ace_step import pipeline as ace
from songforge.engine.ace_step.edit import CROSSFADE_S, extend, repaint
from songforge.engine.ace_step.render import audio_tensor, hop, text2music
from songforge.params import SongSpec

LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"
RATE = 48000
OFF_HOP_S = 12.005  # 576240 samples: 1200.5 frames of the tiny VAE's 480-sample hop


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The tiny pipeline as the engine loads it (CPU, float32), on one torch thread; and its model folder."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = write_tiny_ace_step(tmp_path_factory.mktemp("models") / "tiny-ace")
    with ace.loaded(song_of(model).engine.params) as (pipe, _):
        yield pipe, model
    torch.set_num_threads(threads)


def song_of(model: Path, seed: int = 0, duration_s: float = OFF_HOP_S, **params) -> SongSpec:
    return SongSpec(title="Lanterns", lyrics=LYRICS, duration_s=duration_s, seed=seed, bpm=96,
                    genre=["dreamy synth-pop"], engine={"name": "ace-step", "params": {
                        "model": str(model), "inference_steps": 2, "memory": "cpu", **params}})


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio))))


def test_repaint_extend_and_cover_at_a_length_off_the_vae_hop_come_back_as_long_as_asked(loaded, tmp_path):
    pipe, model = loaded
    assert hop(pipe) == 480 and int(OFF_HOP_S * RATE) % hop(pipe) != 0
    song = song_of(model)
    params = song.engine.params
    take = text2music(pipe, song, params, seed=0)
    samples = int(round(OFF_HOP_S * RATE))
    assert take.shape == (samples, 2)

    repainted = repaint(pipe, song, params, take, 4.0, 7.0, seed=1)
    assert repainted.audio.shape == (samples, 2)
    margin = int(CROSSFADE_S * RATE)
    np.testing.assert_array_equal(repainted.audio[:4 * RATE - margin], take[:4 * RATE - margin])
    assert rms(repainted.audio[4 * RATE:7 * RATE] - take[4 * RATE:7 * RATE]) > 0.1 * rms(take)

    longer = extend(pipe, song, params, take, 3.0, seed=1)  # 15.005 s: off the hop as well
    assert longer.audio.shape == (int(round((OFF_HOP_S + 3) * RATE)), 2)
    np.testing.assert_array_equal(longer.audio[:samples - margin], take[:samples - margin])

    covered = write_wav(tmp_path / "covered.wav", take, RATE, "FLOAT")  # exactly the song's length, off the hop
    cover = song_of(model, cover_of=str(covered))
    assert text2music(pipe, cover, cover.engine.params, seed=2).shape == (samples, 2)


def test_a_global_reseed_during_the_call_does_not_change_the_take(loaded, tmp_path):
    """Another take's call in another thread reseeding torch's global generator between the VAE's encode and its
    sample (here: a hook on the VAE's encoder reseeds it) leaves this take as it is: its noise is its own."""
    pipe, model = loaded
    song = song_of(model, duration_s=10.0)
    params = song.engine.params
    take = text2music(pipe, song, params, seed=0)
    covered = write_wav(tmp_path / "covered.wav", take, RATE, "FLOAT")
    cover = song_of(model, duration_s=10.0, cover_of=str(covered))

    def with_reseed(other_seed: int, make):
        hook = pipe.vae.encoder.register_forward_hook(lambda *_: torch.manual_seed(other_seed) and None)
        try:
            return make()
        finally:
            hook.remove()

    for make in (lambda: text2music(pipe, cover, cover.engine.params, seed=3),
                 lambda: repaint(pipe, song, params, take, 2.0, 5.0, seed=3).audio):
        np.testing.assert_array_equal(with_reseed(11, make), with_reseed(12, make))
    state = torch.get_rng_state()
    text2music(pipe, cover, cover.engine.params, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # nor does the take touch the global generator


K = 5  # repaints and takes compared: each about a second on the tiny pipeline


def criterion(edits: list[float], takes: list[float]) -> tuple[bool, float]:
    """Do the edits differ from the original as much as other seeds' takes do? The two means are compared one-sided
    within 3 standard errors of their difference (sample standard deviations): an edit that kept much of the
    original in its range falls below. (passes, mean_edit / mean_take)."""
    se = float(np.sqrt(np.var(edits, ddof=1) / len(edits) + np.var(takes, ddof=1) / len(takes)))
    return float(np.mean(edits)) >= float(np.mean(takes)) - 3 * se, float(np.mean(edits) / np.mean(takes))


def test_repaints_differ_from_the_original_in_their_range_as_other_seeds_takes_do(loaded):
    """The done-when criterion, on K repaints of 4-7 s (seeds 1-K) against K takes of the same song (seeds K+1 to
    2K) over the same range; the negative control, the original through the VAE and back (K draws of its
    encoding: what a repaint that regenerated nothing would give), fails it, as the original itself (0) does."""
    pipe, model = loaded
    song = song_of(model, duration_s=12.0)
    params = song.engine.params
    original = text2music(pipe, song, params, seed=0)
    inside = slice(4 * RATE, 7 * RATE)
    off = lambda audio: rms(audio[inside] - original[inside])
    edits = [off(repaint(pipe, song, params, original, 4.0, 7.0, seed=seed).audio) for seed in range(1, K + 1)]
    takes = [off(text2music(pipe, song, params, seed=seed)) for seed in range(K + 1, 2 * K + 1)]
    with torch.no_grad():
        source = audio_tensor(original)[None]
        round_trips = [off(pipe.vae.decode(pipe.vae.encode(source).latent_dist.sample(
            generator=torch.Generator().manual_seed(seed))).sample[0].numpy().T[:len(original)]) for seed in range(K)]
    passed, ratio = criterion(edits, takes)
    control, control_ratio = criterion(round_trips, takes)
    print(f"rms inside 4-7 s vs the original: edits {np.round(edits, 4)}, takes {np.round(takes, 4)}, VAE round "
          f"trips {np.round(round_trips, 4)}; mean edit / mean take {ratio:.3f}, round trip / take {control_ratio:.3f}")
    assert passed, (edits, takes)
    assert not control and not criterion([0.0] * K, takes)[0]
