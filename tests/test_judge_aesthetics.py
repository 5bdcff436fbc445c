"""Audiobox Aesthetics (songforge/judge/aesthetics.py, songforge/steps/aesthetics.py) on random weights of the real
model (never the real checkpoint), saved as the hub holds it: the same four numbers as the audiobox_aesthetics
package's own predictor on the same real audio, its windowing, the step in a song's plan, the check before any
run, and the licence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from judge_models import LYRICS, RANDOM_AESTHETICS, random_aesthetics, sketch_master, write_random_aesthetics

from songforge.album_file import load_album
from songforge.artifacts import output
from songforge.audio.io import resample
from songforge.errors import EngineError, ParamsError
from songforge.judge.aesthetics import AXES, NAME, SAMPLE_RATE, aesthetics_scores, load_aesthetics, windows
from songforge.plan import plan_song
from songforge.preflight import check_album


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> Path:
    return write_random_aesthetics(tmp_path_factory.mktemp("models") / RANDOM_AESTHETICS)


@pytest.fixture(scope="module")
def loaded(random_model):
    """Ours, loaded from the folder; and the package's model built in memory from the same seed."""
    return load_aesthetics(str(random_model)), random_aesthetics(seed=0)


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> tuple[Path, np.ndarray, int]:
    return sketch_master(tmp_path_factory.mktemp("song"), 13.0)  # two windows, the last one 3 s of audio


@pytest.fixture(scope="module")
def ours(loaded, master) -> dict[str, float]:
    """Our ratings of the master at its own rate (44.1 kHz), computed once: the model is full size."""
    _, audio, rate = master
    return aesthetics_scores(loaded[0], audio, rate)


def album_of(folder: Path, song: dict | None = None, **album):
    path = folder / "album.yaml"
    song = {"title": "One", "lyrics": LYRICS, "duration_s": 12, **(song or {})}
    path.write_text(yaml.safe_dump({"title": "Judged", "songs": [song], **album}))
    return load_album(path)


def package_ratings(model, audio: np.ndarray, rate: int) -> dict[str, float]:
    """The package's own AesPredictor.forward (its resampling, windows, weights) on a model already built."""
    from audiobox_aesthetics.infer import AesPredictor

    predictor = AesPredictor.__new__(AesPredictor)  # its __post_init__ would load a checkpoint: give it ours
    predictor.data_col, predictor.sample_rate, predictor.device, predictor.model = "path", SAMPLE_RATE, "cpu", model
    from audiobox_aesthetics.model.aes import Normalize

    predictor.target_transform = {axis: Normalize(**model.target_transform[axis]) for axis in AXES}
    wav = torch.from_numpy(np.ascontiguousarray(audio.T))
    return predictor.forward([{"path": wav, "sample_rate": rate}])[0]


def test_random_weights_give_the_packages_four_numbers_on_the_same_audio(loaded, master):
    _, audio, rate = master
    audio16 = resample(audio, rate, SAMPLE_RATE)  # at 16 kHz neither side resamples: the rest must agree exactly
    ours16 = aesthetics_scores(loaded[0], audio16, SAMPLE_RATE, batch_windows=1)
    theirs = package_ratings(loaded[1], audio16, SAMPLE_RATE)
    assert set(ours16) == set(theirs) == set(AXES)
    for axis in AXES:
        assert ours16[axis] == pytest.approx(theirs[axis], abs=1e-4), axis
    assert len({round(value, 3) for value in ours16.values()}) == 4  # four heads, four different numbers


def test_at_the_masters_rate_only_the_resampler_differs(loaded, ours, master):
    _, audio, rate = master
    theirs = package_ratings(loaded[1], audio, rate)  # torchaudio's sinc resampler, ours soxr
    for axis in AXES:
        assert ours[axis] == pytest.approx(theirs[axis], abs=0.05), axis


def test_windows_are_the_packages_ten_second_cuts():
    rate = SAMPLE_RATE
    audio = np.stack([np.linspace(-1, 1, 23 * rate), np.zeros(23 * rate)], axis=1).astype(np.float32)
    cut = windows(audio, rate)
    assert cut.wavs.shape == cut.masks.shape == (3, 10 * rate)
    assert cut.weights.tolist() == [1.0, 1.0, 0.3]
    assert cut.masks[2, :3 * rate].all() and not cut.masks[2, 3 * rate:].any() and not cut.wavs[2, 3 * rate:].any()
    assert cut.wavs[0, 0] == pytest.approx(-0.5)  # mono: the mean of the channels


def test_the_step_rates_the_master(random_model, ours, master, tmp_path):
    path, _, _ = master
    album = album_of(tmp_path, {"aesthetics": {"model": str(random_model)}})
    plan = plan_song(album.songs[0], album)
    assert plan.names.index("aesthetics") > plan.names.index("master") and "aesthetics" in plan.view().metrics
    planned = next(p for p in plan.steps if p.name == "aesthetics")
    done = planned.step.run(planned.params, {"master": output("master", master=path)}, tmp_path / "song")
    assert done.data == pytest.approx({f"audiobox_{axis.lower()}": ours[axis] for axis in AXES}, abs=1e-5)
    record = json.loads(done.path("aesthetics").read_text())
    assert record["model"] == str(random_model) and record["audiobox_pq"] == done.data["audiobox_pq"]
    assert "aesthetics" not in plan_song(album_of(tmp_path).songs[0], album).names  # not asked: not planned


def test_a_song_asking_for_aesthetics_without_the_model_is_refused_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))
    album = album_of(tmp_path, {"aesthetics": {}})
    with pytest.raises(EngineError) as error:
        check_album(album)
    assert f"songforge models pull {NAME}" in str(error.value)
    with pytest.raises(EngineError, match="not there"):
        load_aesthetics(NAME)  # a run never downloads


def test_a_folder_that_is_not_an_aesthetics_checkpoint_is_refused(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(EngineError, match="cannot be loaded") as error:
        load_aesthetics(str(folder))
    assert "Fix:" in str(error.value)


def test_a_commercial_album_reads_the_licence_of_the_aesthetics_model(random_model, tmp_path):
    check_album(album_of(tmp_path, {"aesthetics": {}}, commercial=True), models=False)  # CC-BY-4.0
    with pytest.raises(ParamsError, match=f"step 'aesthetics' uses {RANDOM_AESTHETICS}, whose terms nobody"):
        check_album(album_of(tmp_path, {"aesthetics": {"model": str(random_model)}}, commercial=True), models=False)


def test_a_pull_takes_the_safetensors_and_config_not_the_pickle(tmp_path, monkeypatch):
    """No download here: huggingface_hub's snapshot_download is faked, serving the repo's file names with
    placeholder bytes; the catalogue's patterns, the record and the check before any run are real."""
    import fnmatch

    import huggingface_hub

    from songforge.catalogue import pull

    repo = ["README.md", ".gitattributes", "assets/aes_model.png", "checkpoint.pt", "config.json",
            "model.safetensors"]
    calls = []

    def fake_snapshot_download(repo_id, *, revision, local_dir, allow_patterns):
        calls.append((repo_id, revision))
        for name in repo:
            if any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns):
                (Path(local_dir) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(local_dir) / name).write_bytes(b"placeholder")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    album = album_of(tmp_path, {"aesthetics": {}})
    with pytest.raises(EngineError):
        check_album(album)
    folder = pull(NAME)
    assert calls == [("facebook/audiobox-aesthetics", "9b1dd8e5df9af7216e836a98974fe3b82c56ded6")]
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith("songforge")) == [
        "config.json", "model.safetensors"]  # the 416 MB pickle (checkpoint.pt) is neither fetched nor loaded
    check_album(album)


def test_a_host_without_the_audiobox_package_is_told_before_any_run(random_model, tmp_path, monkeypatch):
    """The package is installed here, so its absence (a plain `pip install`) is simulated: find_spec is patched."""
    import importlib.util

    from songforge.steps import aesthetics as step

    real = importlib.util.find_spec
    monkeypatch.setattr(step.importlib.util, "find_spec",
                        lambda name, *args: None if name == "audiobox_aesthetics" else real(name, *args))
    with pytest.raises(ParamsError) as error:
        check_album(album_of(tmp_path, {"aesthetics": {"model": str(random_model)}}), models=False)
    assert error.value.field == "aesthetics" and "--no-deps audiobox_aesthetics==0.0.4" in str(error.value)
