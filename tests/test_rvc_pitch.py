"""The F0 a refined voice follows: torchcrepe's real path on real audio (a sung vocal, a synthesised glide), RMVPE's
network at its real shapes loaded from a plain state dict (weights_only), both on the pipeline's 10 ms grid, and
RVC's coarse pitch bins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from songforge.audio.io import read_audio, resample, to_mono
from songforge.errors import EngineError
from songforge.voice.rvc.f0 import coarse, crepe_tracker, shift
from songforge.voice.rvc.rmvpe import CENTS_BIN0, E2E, LogMel, load_rmvpe, rmvpe_f0, salience_to_hz

VOCALS = Path("/work/shared/yue/data/prompt_egs/pop.00001.Vocals.mp3")  # a real sung vocal (YuE's prompt example)


def glide(seconds: float = 1.5, low: float = 220.0, high: float = 440.0) -> np.ndarray:
    """16 kHz sine gliding exponentially from `low` to `high` Hz."""
    t = np.arange(int(16000 * seconds)) / 16000
    hz = low * (high / low) ** (t / seconds)
    return (0.5 * np.sin(2 * np.pi * np.cumsum(hz) / 16000)).astype(np.float32)


def test_crepe_reads_a_glide_an_octave_up_on_the_10ms_grid():
    audio = glide()
    f0 = crepe_tracker("tiny")(audio)
    assert f0.shape == (audio.shape[0] // 160 + 1,)
    assert (f0[10:-10] > 0).all()
    first, last = f0[10:15].mean(), f0[-15:-10].mean()  # frames 10-14 and 136-140: 1.26 s apart in a 1.5 s octave
    assert 12 * np.log2(last / first) == pytest.approx(12 * 1.26 / 1.5, abs=0.3)
    middle = len(f0) // 2  # frame j is centred on sample 160 j: the glide's pitch there
    assert 12 * np.log2(f0[middle] / (220 * 2 ** (middle * 160 / 16000 / 1.5))) == pytest.approx(0, abs=0.3)


@pytest.mark.skipif(not VOCALS.is_file(), reason="YuE's example vocal is not on this machine")
def test_crepe_tracks_a_real_sung_vocal():
    audio, rate = read_audio(VOCALS)
    clip = resample(to_mono(audio)[:, None], rate, 16000)[16000 * 10:16000 * 13, 0]
    f0 = crepe_tracker("tiny")(clip)
    voiced = f0[f0 > 0]
    assert f0.shape == (clip.shape[0] // 160 + 1,) and voiced.size > 0.3 * f0.size
    assert 80 < np.median(voiced) < 1000  # a sung range, not an octave error into the bass or the whistle


def test_crepe_voicing_is_centred_on_a_burst():
    """The pipeline assumes tracker frame j is centred on sample 160 j: a tone burst's voiced run is centred on it."""
    audio = np.zeros(16000 * 2, np.float32)
    burst = slice(8000, 20000)
    audio[burst] = glide(0.75, 300, 300)[:12000]
    voiced = np.flatnonzero(crepe_tracker("tiny")(audio) > 0)
    assert abs((voiced[0] + voiced[-1]) / 2 * 160 - (burst.start + burst.stop) / 2) <= 160


def test_rmvpe_runs_at_its_real_shapes_from_a_plain_state_dict(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "rmvpe.pt"
    torch.save(E2E().state_dict(), path)
    model = load_rmvpe(path)
    audio = glide(1.0)
    mel = LogMel()(torch.from_numpy(audio)[None])
    assert mel.shape == (1, 128, audio.shape[0] // 160 + 1)
    with torch.inference_mode():
        salience = model(torch.nn.functional.pad(mel, (0, -mel.shape[-1] % 32)))
    assert salience.shape == (1, 128, 360) and ((salience > 0) & (salience < 1)).all()
    assert rmvpe_f0(model, audio).shape == (audio.shape[0] // 160 + 1,)


def test_rmvpe_mel_frames_are_centred_like_the_trackers():
    audio = np.zeros(16000, np.float32)
    audio[8000] = 1.0  # a click at frame 50's centre
    assert int(LogMel()(torch.from_numpy(audio)[None])[0].sum(0).argmax()) == 50


def test_rmvpe_salience_decodes_to_the_bins_pitch_and_silence_to_zero():
    salience = np.zeros((3, 360))
    salience[0, 100] = 0.9  # one bin: its own pitch
    salience[1, [199, 200, 201]] = [0.5, 1.0, 0.5]  # symmetric: the middle bin's pitch
    salience[2, 50] = 0.02  # below RVC's 0.03: unvoiced
    hz = salience_to_hz(salience)
    assert hz[0] == pytest.approx(10 * 2 ** ((CENTS_BIN0 + 2000) / 1200))
    assert hz[1] == pytest.approx(10 * 2 ** ((CENTS_BIN0 + 4000) / 1200)) and hz[2] == 0


def test_rmvpe_refuses_a_pickle_and_names_the_pull(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "rmvpe.pt"
    torch.save({"unet": Payload()}, path)
    with pytest.raises(EngineError, match="songforge models pull rmvpe"):
        load_rmvpe(path)
    with pytest.raises(EngineError, match="missing.*songforge models pull rmvpe"):
        load_rmvpe(tmp_path / "absent.pt")


def test_coarse_bins_and_shift_are_rvcs():
    assert list(coarse(np.array([0.0, 50.0, 1100.0, 4000.0]))) == [1, 1, 255, 255]
    mel = lambda hz: 1127 * np.log(1 + hz / 700)  # noqa: E731
    expected = round((mel(440) - mel(50)) * 254 / (mel(1100) - mel(50)) + 1)
    assert coarse(np.array([440.0]))[0] == expected
    assert list(shift(np.array([0.0, 220.0]), 12)) == [0.0, 440.0]
