"""MuQ-MuLan similarity (songforge/judge/muq.py, mulan.py, songforge/steps/mulan.py) on tiny random models of the
real architecture (never the real checkpoint): the same number as the `muq` package on the same random weights
and real audio, the front end against torchaudio's, the step in a song's plan, the check before any run and the
non-commercial licence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from judge_models import LYRICS, sketch_master
from muq_tiny import adapt_reference, reference_muq, tiny_mulan_config, tiny_muq_config, write_text_model, \
    write_tiny_mulan

from songforge.album_file import load_album
from songforge.artifacts import output
from songforge.audio.io import resample, to_mono
from songforge.errors import EngineError, ParamsError
from songforge.judge.mulan import NAME, clips, load_mulan, mulan_score
from songforge.judge.muq import MuQ, MuQConfig, log_mel
from songforge.plan import plan_song
from songforge.preflight import check_album

STYLE = "pop rock guitar upbeat female vocals"


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> tuple[Path, np.ndarray, int]:
    return sketch_master(tmp_path_factory.mktemp("song"), 10.0)  # 2 clips of the tiny 4 s, and a wrapped one


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_tiny_mulan(folder / NAME)
    return folder


def album_of(folder: Path, song: dict | None = None, **album):
    path = folder / "album.yaml"
    song = {"title": "One", "lyrics": LYRICS, "duration_s": 12, "genre": ["pop"], **(song or {})}
    path.write_text(yaml.safe_dump({"title": "Judged", "songs": [song], **album}))
    return load_album(path)


def reference_or_skip():
    try:
        return reference_muq()
    except ImportError as error:
        pytest.skip(f"the muq package (0.1.0) is not importable here: {error}")


def test_same_similarity_as_the_muq_package_on_the_same_random_weights(master, tmp_path):
    muq = reference_or_skip()
    folder = tmp_path / "muq-mulan"
    torch.manual_seed(1)
    reference_encoder = muq.MuQ(tiny_muq_config())
    reference_encoder.save_pretrained(str(folder / "muq"))  # the package's own layout (config.json + safetensors)
    write_text_model(folder / "xlm-roberta-base", seed=2)
    torch.manual_seed(3)
    reference = muq.MuQMuLan(tiny_mulan_config(str(folder / "muq"), str(folder / "xlm-roberta-base"))).eval()
    reference.save_pretrained(str(folder))
    adapt_reference(reference.mulan.audio.model)
    _, audio, rate = master
    mono = resample(to_mono(audio)[:, None], rate, 24_000)[:, 0]
    with torch.inference_mode():
        expected = float(reference.calc_similarity(reference(wavs=torch.from_numpy(mono)[None])[0],
                                                   reference(texts=[STYLE])[0]))
    ours = mulan_score(load_mulan(str(folder)), mono, 24_000, STYLE)
    assert ours == pytest.approx(expected, abs=1e-5)
    other = mulan_score(load_mulan(str(folder)), mono, 24_000, "ballad piano sad male voice")
    assert other != pytest.approx(ours, abs=1e-4)  # the text matters


def test_log_mel_is_torchaudios_front_end(master):
    import torchaudio

    _, audio, rate = master
    wav = torch.from_numpy(resample(to_mono(audio)[:, None], rate, 24_000)[:, 0])[None]
    config = MuQConfig.of(tiny_muq_config())
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=24_000, n_fft=2048, hop_length=240, n_mels=128)(wav)
    expected = (torchaudio.transforms.AmplitudeToDB()(mel)[..., :-1] - config.stat["melspec_2048_mean"]) / \
        config.stat["melspec_2048_std"]
    ours = log_mel(MuQ(config).model, wav)
    assert ours.shape == expected.shape == (1, 128, wav.shape[1] // 240)  # 100 a second, the last one dropped
    assert torch.allclose(ours, expected, atol=1e-4)


def test_clips_fill_the_last_one_from_the_start():
    wav = torch.arange(25, dtype=torch.float32)
    parts = clips(wav, 10)
    assert parts.shape == (3, 10) and parts[2].tolist() == [20, 21, 22, 23, 24, 0, 1, 2, 3, 4]
    assert clips(torch.arange(20.0), 10).shape == (2, 10)
    assert clips(torch.arange(4.0), 10).tolist() == [[0, 1, 2, 3, 0, 1, 2, 3]]  # as the package: a short clip


def test_the_step_scores_the_master_against_the_style_line(models, master, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(models))
    path, audio, rate = master
    album = album_of(tmp_path, {"mulan": {}, "mood": ["upbeat"]})
    plan = plan_song(album.songs[0], album)
    assert plan.names.index("mulan") > plan.names.index("master") and "mulan" in plan.view().metrics
    planned = next(p for p in plan.steps if p.name == "mulan")
    assert planned.params.text == album.songs[0].style == "pop upbeat female"
    done = planned.step.run(planned.params, {"master": output("master", master=path)}, tmp_path / "song")
    expected = mulan_score(load_mulan(NAME), audio, rate, "pop upbeat female")
    assert set(done.data) == {"mulan"} and done.data["mulan"] == pytest.approx(expected, abs=1e-6)
    assert -1.0 <= done.data["mulan"] <= 1.0
    record = json.loads(done.path("mulan").read_text())
    assert record["licence"].startswith("Creative Commons Attribution-NonCommercial 4.0")
    assert "mulan" not in plan_song(album_of(tmp_path).songs[0], album).names  # not asked: not planned


def test_a_song_without_style_text_is_refused_before_any_run(models, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(models))
    album = album_of(tmp_path, {"mulan": {}, "genre": [], "voice": []})
    with pytest.raises(ParamsError, match="mulan.text"):
        plan_song(album.songs[0], album)


def test_a_song_asking_for_mulan_without_the_model_is_refused_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))
    album = album_of(tmp_path, defaults={"mulan": {}})
    with pytest.raises(EngineError) as error:
        check_album(album)
    assert f"songforge models pull {NAME}" in str(error.value) and "'One'" in str(error.value)
    with pytest.raises(EngineError, match="not there"):
        load_mulan(NAME)  # a run never downloads


def test_a_commercial_album_refuses_mulan(tmp_path):
    with pytest.raises(ParamsError, match="step 'mulan' uses .*NonCommercial.*forbids commercial use"):
        check_album(album_of(tmp_path, {"mulan": {}}, commercial=True), models=False)
