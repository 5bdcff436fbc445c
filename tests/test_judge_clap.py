"""The CLAP score (songforge/judge/clap.py, songforge/steps/clap.py) on a tiny random CLAP of the real architecture
(never the real checkpoint): the same number as transformers' own ClapModel path on the same preprocessed audio,
the checkpoint's long-audio fusion, the step in a song's plan, the check before any run, and the licence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from judge_models import LYRICS, TINY_CLAP, sketch_master, write_tiny_clap

from songforge.album_file import load_album
from songforge.artifacts import output
from songforge.audio.io import resample, to_mono
from songforge.errors import EngineError, ParamsError
from songforge.judge.clap import NAME, audio_inputs, clap_score, load_clap
from songforge.plan import plan_song
from songforge.preflight import check_album

STYLE = "pop piano uplifting female"


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory) -> Path:
    return write_tiny_clap(tmp_path_factory.mktemp("models") / TINY_CLAP)


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> tuple[Path, np.ndarray, int]:
    return sketch_master(tmp_path_factory.mktemp("song"), 24.0)  # longer than CLAP's 10 s window


def album_of(folder: Path, song: dict | None = None, **album):
    path = folder / "album.yaml"
    song = {"title": "One", "lyrics": LYRICS, "duration_s": 12, "genre": ["pop"], **(song or {})}
    path.write_text(yaml.safe_dump({"title": "Judged", "songs": [song], **album}))
    return load_album(path)


def clap_params(album):
    return next(p for p in plan_song(album.songs[0], album).steps if p.name == "clap").params


def test_tiny_random_clap_score_is_transformers_own_cosine_on_the_fused_long_audio(tiny_clap, master):
    _, audio, rate = master
    clap = load_clap(str(tiny_clap))
    ours = clap_score(clap, audio, rate, STYLE, seed=5)
    # transformers' own path: the processor on 48 kHz mono with numpy seeded as ours seeds it, then ClapModel.forward
    mono48 = resample(to_mono(audio)[:, None], rate, 48_000)[:, 0]
    np.random.seed(5)
    inputs = clap.processor(text=[STYLE], audio=[mono48], sampling_rate=48_000, return_tensors="pt")
    assert inputs["input_features"].shape == (1, 4, 1001, 64) and bool(inputs["is_longer"][0, 0])  # fusion, long
    with torch.inference_mode():
        out = clap.model(**inputs)
    expected = float(out.text_embeds[0] @ out.audio_embeds[0])
    assert ours == pytest.approx(expected, abs=1e-5)
    assert -1.0 <= ours <= 1.0


def test_fusion_crops_come_from_the_seed_and_leave_numpy_random_state_alone(tiny_clap, master):
    _, audio, rate = master
    clap = load_clap(str(tiny_clap))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = audio_inputs(clap, audio, rate, seed=0)["input_features"]
    assert np.array_equal(np.random.get_state()[1], before)  # the caller's random stream is untouched
    assert torch.equal(first, audio_inputs(clap, audio, rate, seed=0)["input_features"])  # same seed, same crops
    other = audio_inputs(clap, audio, rate, seed=1)["input_features"]
    assert torch.equal(first[0, 0], other[0, 0])  # the whole song shrunk to one window does not depend on it
    assert not torch.equal(first[0, 1:], other[0, 1:])  # the three crops do
    assert clap_score(clap, audio, rate, STYLE) == clap_score(clap, audio, rate, STYLE)


def test_the_score_depends_on_the_text(tiny_clap, master):
    _, audio, rate = master
    clap = load_clap(str(tiny_clap))
    assert clap_score(clap, audio, rate, STYLE) != pytest.approx(clap_score(clap, audio, rate, "metal drums male"))
    with pytest.raises(EngineError, match="clap.text"):
        clap_score(clap, audio, rate, "  ")


def test_the_step_scores_the_master_against_the_style_line(tiny_clap, master, tmp_path):
    path, audio, rate = master
    album = album_of(tmp_path, {"clap": {"model": str(tiny_clap)}, "mood": ["uplifting"]})
    plan = plan_song(album.songs[0], album)
    assert plan.names.index("clap") > plan.names.index("master") and "clap" in plan.view().metrics
    planned = next(p for p in plan.steps if p.name == "clap")
    assert dict(planned.sources) == {"master": "master"}
    assert planned.params.text == album.songs[0].style == "pop uplifting female"
    done = planned.step.run(planned.params, {"master": output("master", master=path)}, tmp_path / "song")
    assert set(done.data) == {"clap_score"}
    assert done.data["clap_score"] == pytest.approx(clap_score(load_clap(str(tiny_clap)), audio, rate,
                                                               "pop uplifting female"), abs=1e-6)
    record = json.loads(done.path("clap").read_text())
    assert record["model"] == str(tiny_clap) and record["licence"].startswith("terms not checked")
    assert "clap" not in plan_song(album_of(tmp_path).songs[0], album).names  # not asked: not planned
    text = album_of(tmp_path, {"clap": {"model": str(tiny_clap), "text": "a sad ballad"}})
    assert clap_params(text).text == "a sad ballad"


def test_the_model_identity_follows_the_weights(tiny_clap, tmp_path):
    own = write_tiny_clap(tmp_path / "clap", seed=0)
    album = album_of(tmp_path, {"clap": {"model": str(own)}})
    before = clap_params(album).model_identity
    write_tiny_clap(own, seed=1)
    after = clap_params(album).model_identity
    assert before != after and not before.endswith("absent")


def test_a_song_asking_for_clap_without_the_model_is_refused_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))
    album = album_of(tmp_path, defaults={"clap": {}})
    with pytest.raises(EngineError) as error:
        check_album(album)
    assert f"songforge models pull {NAME}" in str(error.value) and "'One'" in str(error.value)
    with pytest.raises(EngineError, match="not there"):
        load_clap(NAME)  # a run never downloads


def test_a_commercial_album_reads_the_licence_of_the_clap_model(tiny_clap, tmp_path):
    check_album(album_of(tmp_path, {"clap": {}}, commercial=True), models=False)  # Apache-2.0
    own = album_of(tmp_path, {"clap": {"model": str(tiny_clap)}}, commercial=True)
    with pytest.raises(ParamsError, match="step 'clap' uses tiny-random-clap, whose terms nobody has checked"):
        check_album(own, models=False)
    check_album(album_of(tmp_path, {"clap": {"model": str(tiny_clap)}}, commercial=True,
                         licences_checked=[TINY_CLAP]), models=False)


def test_bad_settings_name_the_field(tmp_path):
    with pytest.raises(ParamsError) as error:
        album_of(tmp_path, {"clap": {"modle": "x"}})
    assert "songs[0].clap.modle" in str(error.value) and "Fix:" in str(error.value)
    tagless = album_of(tmp_path, {"clap": {}, "genre": [], "voice": []})
    with pytest.raises(ParamsError, match="clap.text"):
        check_album(tagless, models=False)  # nothing to score against: said before any run


def test_a_pull_takes_every_file_the_hub_repo_has_that_loading_reads(tiny_clap, tmp_path, monkeypatch):
    """No download here: huggingface_hub's snapshot_download is faked, serving the repo's file names (with the tiny
    random model's bytes where it has such a file); the catalogue's patterns, the record and the check are real."""
    import fnmatch

    import huggingface_hub

    from songforge.catalogue import pull

    repo = ["README.md", ".gitattributes", "config.json", "preprocessor_config.json", "pytorch_model.bin",
            "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"]
    calls = []

    def fake_snapshot_download(repo_id, *, revision, local_dir, allow_patterns):
        calls.append((repo_id, revision))
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        for name in repo:
            if any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns):
                source = tiny_clap / name
                (Path(local_dir) / name).write_bytes(source.read_bytes() if source.is_file() else b"{}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "models"))
    folder = pull(NAME)
    assert calls == [("laion/larger_clap_music", "a0b4534a14f58e20944452dff00a22a06ce629d1")]
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith("songforge")) == sorted(
        repo[2:])  # every file but the card and git's attributes
    check_album(album_of(tmp_path, {"clap": {}}))  # pulled: the check before any run lets the song through
