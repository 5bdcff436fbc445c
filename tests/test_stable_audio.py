"""The stable-audio-open engine on a tiny random StableAudioPipeline saved in a temp models folder and loaded by
our loader, offline: same seed same take, our step equal to diffusers' pipeline called directly, the 47 s limit
(refused when the song loads), the licence (commercial allowed with its terms printed, refused for an enterprise),
the gated pull's error, and a song through the album flow, cached on rerun (slow)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from stable_audio_tiny import write_tiny_stable_audio

from songforge.album_file import load_album
from songforge.errors import EngineError, ParamsError
from songforge.licences import STABILITY_COMMUNITY, LicenceTerms
from songforge.params import SongSpec
from songforge.preflight import check_album

STEPS = 3  # sampler steps in these tests: enough for the multistep solver's second order


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_stable_audio(tmp_path_factory.mktemp("models") / "tiny-stable-audio")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """The hub is unreachable here anyway: offline mode makes any attempt fail at once instead of timing out."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))


def song(model: Path | str, seed: int = 0, duration_s: float = 10, **params) -> SongSpec:
    return SongSpec(title="Bed", lyrics="[instrumental]\n", seed=seed, duration_s=duration_s,
                    genre=["ambient techno"], instrument=["warm pads", "analog bass"], mood=["calm"], bpm=120,
                    engine={"name": "stable-audio-open", "params": {"model": str(model), "inference_steps": STEPS,
                                                                    **params}})


def take(spec: SongSpec):
    return spec.engine.engine.generate(spec, spec.engine.params, spec.seed)


def test_same_seed_same_take_and_an_instrumental_of_the_song_length(tiny):
    first, again, other = take(song(tiny, seed=3)), take(song(tiny, seed=3)), take(song(tiny, seed=4))
    assert first.sample_rate == 44100 and first.instrumental.shape == (10 * 44100, 2)
    assert first.instrumental.dtype == np.float32 and np.abs(first.instrumental).max() > 0
    np.testing.assert_array_equal(first.instrumental, again.instrumental)
    assert not np.allclose(first.instrumental, other.instrumental, atol=1e-4)
    assert not first.vocals.any()  # instrumental engine: a silent vocal stem of the same length
    assert first.metadata["prompt"] == "ambient techno, warm pads, analog bass, calm, 120 BPM"
    assert first.metadata["licence"]["id"] == STABILITY_COMMUNITY.id


@pytest.mark.parametrize("params", [{}, {"negative_prompt": "low quality, vocals", "guidance_scale": 4.0,
                                         "sigma_min": 0.5, "sigma_max": 200.0}])
def test_our_step_equals_the_pipeline_called_directly(tiny, params):
    from diffusers import StableAudioPipeline

    spec = song(tiny, seed=7, **params)
    ours = take(spec)
    pipeline = StableAudioPipeline.from_pretrained(tiny, local_files_only=True)
    sigmas = {k: params[k] for k in ("sigma_min", "sigma_max") if k in params}
    pipeline.scheduler = type(pipeline.scheduler).from_config(pipeline.scheduler.config, **sigmas)
    direct = pipeline("ambient techno, warm pads, analog bass, calm, 120 BPM", audio_end_in_s=10,
                      negative_prompt=params.get("negative_prompt"), num_inference_steps=STEPS,
                      guidance_scale=params.get("guidance_scale", 7.0), generator=torch.Generator("cpu").manual_seed(7),
                      output_type="np").audios[0]
    np.testing.assert_array_equal(ours.instrumental, direct.T)


def album_file(tmp_path: Path, model: Path | str, duration_s: float = 10, **album) -> Path:
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Beds", **album, "songs": [{
        "title": "Bed", "lyrics": "[instrumental]\n", "duration_s": duration_s, "genre": ["ambient techno"],
        "instrument": ["warm pads"], "engine": {"name": "stable-audio-open",
                                               "params": {"model": str(model), "inference_steps": STEPS}}}]}))
    return path


def test_a_song_over_47_s_is_refused_when_it_loads(tiny, tmp_path):
    assert load_album(album_file(tmp_path, tiny, duration_s=47)).songs[0].duration_s == 47
    with pytest.raises(ParamsError) as refused:
        load_album(album_file(tmp_path, tiny, duration_s=47.5))
    text = str(refused.value)
    assert "songs[0].duration_s" in text and "at most 47 s" in text and "set duration_s to 47 or less" in text
    sketch = SongSpec(title="Long", lyrics="[instrumental]\n", duration_s=120)  # other engines keep their range
    assert sketch.duration_s == 120


def test_a_model_shorter_than_the_song_is_refused_before_rendering(tmp_path):
    short = write_tiny_stable_audio(tmp_path / "short", sample_size=512)  # 512 * 512 / 44100 = 5.94 s
    with pytest.raises(EngineError, match=r"renders at most 5\.94 s.*set duration_s to 5 or less"):
        take(song(short))


def test_commercial_allowed_with_the_terms_printed_enterprise_refused(tiny, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_album(load_album(album_file(tmp_path, tiny, commercial=True)), models=False)
    terms = [str(w.message) for w in caught if issubclass(w.category, LicenceTerms)]
    assert len(terms) == 1 and "stable-audio-open/generate" in terms[0] and "US$1,000,000" in terms[0]
    with warnings.catch_warnings(record=True) as caught:  # not commercial: nothing to print
        warnings.simplefilter("always")
        check_album(load_album(album_file(tmp_path, tiny)), models=False)
    assert not [w for w in caught if issubclass(w.category, LicenceTerms)]

    with pytest.raises(ParamsError) as refused:
        check_album(load_album(album_file(tmp_path, tiny, commercial=True, enterprise=True)), models=False)
    text = str(refused.value)
    assert "commercial" in text and "stable-audio-open/generate" in text and "enterprise: true" in text
    assert "licences_checked" in text  # the way out for a holder of Stability's enterprise licence
    vouched = album_file(tmp_path, tiny, commercial=True, enterprise=True, licences_checked=[STABILITY_COMMUNITY.id])
    check_album(load_album(vouched), models=False)


def test_models_missing_and_the_gated_pull_say_what_to_do(tmp_path):
    from songforge.catalogue import all_models, pull

    entry = all_models()["stable-audio-open"]
    assert entry.repo == "stabilityai/stable-audio-open-1.0" and entry.gated and entry.licence == STABILITY_COMMUNITY
    with pytest.raises(EngineError, match="songforge models pull stable-audio-open"):
        check_album(load_album(album_file(tmp_path, "stable-audio-open")))
    with pytest.raises(EngineError) as refused:  # HF_HUB_OFFLINE: the download fails as it does without a token
        pull("stable-audio-open")
    assert "gated" in str(refused.value) and "HF_TOKEN" in str(refused.value)


@pytest.mark.slow
def test_a_stable_audio_song_through_the_album_flow_cached_on_rerun(tiny, prefect_api, tmp_path, monkeypatch):
    from flows.album import album_flow
    from test_plan_flows import task_run_states

    monkeypatch.setenv("SONGFORGE_GPU_LOCKS", str(tmp_path / "gpu"))
    album = load_album(album_file(tmp_path, tiny))
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "out")
    first = album_flow(album, out, uri, return_state=True)
    result = first.result()
    assert not result["failed"], result
    folder = Path(result["folders"][0])
    made = json.loads((folder / "take.json").read_text())
    assert made["licence"]["id"] == STABILITY_COMMUNITY.id and made["instrumental"] and made["duration_s"] == 10
    direct = take(album.songs[0])
    from songforge.audio.io import read_audio

    instrumental, rate = read_audio(folder / "stems" / "instrumental.wav")
    np.testing.assert_array_equal(instrumental, direct.instrumental)
    assert task_run_states(first, "generate-01-bed") == ["Completed"]
    again = album_flow(album, out, uri, return_state=True)
    assert task_run_states(again, "generate-01-bed") == ["Cached"]
    assert task_run_states(again, "master-01-bed") == ["Cached"]


def test_models_list_shows_the_licence_and_its_threshold():
    from typer.testing import CliRunner

    from app.models_cli import models_app

    shown = CliRunner().invoke(models_app, ["list"])
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if "stable-audio-open" in line]
    assert len(lines) == 2 and all("Stability-AI-Community" in line for line in lines)
    assert all("commercial: yes, below its revenue threshold" in line for line in lines)
