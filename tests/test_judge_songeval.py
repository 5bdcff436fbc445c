"""SongEval's five scores (songforge/judge/songeval.py, songforge/steps/songeval.py) on tiny random models of the
real architectures (never the real checkpoints): MuQ's layer-6 features equal to the `muq` package's on the same
random weights and real audio, the head's output order as SongEval's eval.py names it, the step in a song's plan,
the check before any run and the non-commercial licences. SongEval's own head code is a script in its repository
(not a package), so it cannot be installed here for a parity run of the head."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from judge_models import LYRICS, sketch_master
from muq_tiny import SONGEVAL_HEAD, adapt_reference, reference_muq, tiny_muq_config, write_tiny_muq, \
    write_tiny_songeval

from songforge.album_file import load_album
from songforge.artifacts import output
from songforge.audio.io import resample, to_mono
from songforge.errors import EngineError, ParamsError
from songforge.judge.muq import hidden_states, load_muq
from songforge.judge.songeval import LAYER, MUQ_NAME, NAME, SCORES, Generator, load_songeval, songeval_scores
from songforge.plan import plan_song
from songforge.preflight import check_album


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> tuple[Path, np.ndarray, int]:
    return sketch_master(tmp_path_factory.mktemp("song"), 10.0)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_tiny_muq(folder / MUQ_NAME)
    write_tiny_songeval(folder / NAME)
    return folder


def album_of(folder: Path, song: dict | None = None, **album):
    path = folder / "album.yaml"
    song = {"title": "One", "lyrics": LYRICS, "duration_s": 12, "genre": ["pop"], **(song or {})}
    path.write_text(yaml.safe_dump({"title": "Judged", "songs": [song], **album}))
    return load_album(path)


def test_muq_layer_6_features_are_the_muq_packages(master, tmp_path):
    try:
        muq = reference_muq()
    except ImportError as error:
        pytest.skip(f"the muq package (0.1.0) is not importable here: {error}")
    torch.manual_seed(4)
    reference = muq.MuQ(tiny_muq_config(depth=6)).eval()
    reference.save_pretrained(str(tmp_path / "muq"))
    adapt_reference(reference)
    _, audio, rate = master
    wav = torch.from_numpy(resample(to_mono(audio)[:, None], rate, 24_000)[:, 0])[None]
    with torch.inference_mode():
        expected = reference(wav, output_hidden_states=True).hidden_states
    ours = hidden_states(load_muq(tmp_path / "muq"), wav)
    assert len(ours) == len(expected) == 7 and ours[LAYER].shape == (1, math.ceil(wav.shape[1] // 240 / 4), 32)  # 25 a second
    assert torch.allclose(ours[LAYER], expected[LAYER], atol=1e-4)
    assert torch.allclose(ours[-1], expected[-1], atol=1e-4)


def test_scores_are_named_in_the_heads_output_order(models, master, tmp_path):
    wanted = [4.5, 1.5, 3.25, 2.0, 4.0]  # eval.py: coherence, musicality, memorability, clarity, naturalness
    head = Generator(**{key: value for key, value in SONGEVAL_HEAD.items() if key != "_target_"})
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.copy_(torch.tensor([math.atanh((value - 3) / 2) for value in wanted]))
    folder = write_tiny_songeval(tmp_path / "fixed", head=head)
    _, audio, rate = master
    scores = songeval_scores(load_songeval(str(folder), str(models / MUQ_NAME)), audio, rate)
    assert scores == pytest.approx(dict(zip(SCORES, wanted)), abs=1e-5)
    assert scores["songeval_naturalness"] == pytest.approx(4.0) and scores["songeval_musicality"] == pytest.approx(1.5)


def test_the_step_scores_the_master(models, master, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(models))
    path, audio, rate = master
    album = album_of(tmp_path, {"songeval": {}})
    plan = plan_song(album.songs[0], album)
    assert plan.names.index("songeval") > plan.names.index("master") and "songeval" in plan.view().metrics
    planned = next(p for p in plan.steps if p.name == "songeval")
    done = planned.step.run(planned.params, {"master": output("master", master=path)}, tmp_path / "song")
    assert set(done.data) == {"songeval_coherence", "songeval_memorability", "songeval_naturalness",
                              "songeval_clarity", "songeval_musicality"}
    assert all(1.0 <= value <= 5.0 for value in done.data.values())
    assert done.data == pytest.approx(songeval_scores(load_songeval(), audio, rate), abs=1e-6)
    record = json.loads(done.path("songeval").read_text())
    assert "NonCommercial-ShareAlike 4.0" in record["licence"] and "NonCommercial 4.0" in record["muq_licence"]
    assert "songeval" not in plan_song(album_of(tmp_path).songs[0], album).names  # off unless asked for


def test_a_song_asking_for_songeval_without_the_models_is_refused_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "empty"))
    album = album_of(tmp_path, defaults={"songeval": {}})
    with pytest.raises(EngineError) as error:
        check_album(album)
    assert f"songforge models pull {NAME} {MUQ_NAME}" in str(error.value) and "'One'" in str(error.value)
    with pytest.raises(EngineError, match="not there"):
        load_songeval()  # a run never downloads


def test_a_commercial_album_refuses_songeval_even_with_a_head_of_ones_own(models, tmp_path):
    with pytest.raises(ParamsError, match="step 'songeval' uses .*NonCommercial-ShareAlike.*forbids commercial"):
        check_album(album_of(tmp_path, {"songeval": {}}, commercial=True), models=False)
    own = album_of(tmp_path, {"songeval": {"model": str(models / NAME)}}, commercial=True, licences_checked=[NAME])
    with pytest.raises(ParamsError, match="step 'songeval' uses .*NonCommercial 4.0.*forbids commercial"):
        check_album(own, models=False)  # its MuQ is still CC BY-NC
