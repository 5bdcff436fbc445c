"""The musicgen engine on tiny random MusicGen and MusicGen-Melody models (tests/musicgen_tiny.py), saved with
save_pretrained and loaded by our loader: seeds, windows, parity with transformers' own generate, the sketch
guide melody, the licence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from musicgen_tiny import RATE, write_melody, write_musicgen
from typer.testing import CliRunner

from songforge.album_file import load_album
from songforge.audio.io import write_wav
from songforge.engine.musicgen.generate import Sampling, render, windows
from songforge.engine.musicgen.steps import MusicGenEngine, guide_melody, guide_params, text_prompt
from songforge.engine.musicgen.weights import load
from songforge.errors import ParamsError
from songforge.params import SongSpec, engine_params
from songforge.preflight import check_album

LYRICS = "[verse]\nla la la la\nsing a little song\n[outro]\n"
SAMPLING = Sampling(guidance_scale=3.0, temperature=1.0, top_k=250)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("musicgen")
    return {"text": write_musicgen(root / "text"), "melody": write_melody(root / "melody")}


def song(model: Path, duration_s: float = 10.0, **params) -> SongSpec:
    return SongSpec(title="Bed", lyrics=LYRICS, duration_s=duration_s, genre=["ambient"], mood=["calm"],
                    instrument=["piano"], engine={"name": "musicgen", "params": {"model": str(model), **params}})


def take(spec: SongSpec, seed: int) -> np.ndarray:
    stems = MusicGenEngine().generate(spec, spec.engine.params, seed)
    assert stems.sample_rate == RATE and not stems.vocals.any()  # an instrumental: silent vocals
    return stems.instrumental


def test_same_seed_same_take_another_seed_another(tiny):
    spec = song(tiny["text"])
    first = take(spec, 3)
    assert np.abs(first).max() > 0
    np.testing.assert_array_equal(first, take(spec, 3))
    assert not np.allclose(first, take(spec, 4), atol=1e-4)


def test_windows_add_up_to_the_song_and_each_continues_from_the_last_overlap():
    assert windows(500, 1500, 500) == [(0, 500)]
    assert windows(1234, 400, 150) == [(0, 400), (150, 250), (150, 250), (150, 250), (150, 84)]
    assert sum(new for _, new in windows(1234, 400, 150)) == 1234


def test_a_long_song_continues_in_windows_to_the_exact_requested_length(tiny, monkeypatch):
    from transformers import MusicgenForConditionalGeneration

    calls = []
    real = MusicgenForConditionalGeneration.generate

    def spy(self, *args, **kwargs):  # a spy, not a mock: the real generate runs
        calls.append((kwargs.get("decoder_input_ids"), kwargs["max_new_tokens"]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MusicgenForConditionalGeneration, "generate", spy)
    spec = song(tiny["text"], duration_s=14.37, window_s=6, overlap_s=2)
    audio = take(spec, 1)
    assert audio.shape == (round(14.37 * RATE), 2)
    # 6 s, then 4 s more twice, then the last 0.37 s: each continuation prompted with the last 2 s of codes
    assert [None if prompt is None else prompt.shape for prompt, _ in calls] == [None] + [(2, 100)] * 3
    assert [new for _, new in calls] == [300 + 1, 200 + 1, 200 + 1, 19 + 1]  # frames + codebooks - 1


@pytest.mark.parametrize("kind", ["text", "melody"])
def test_one_window_is_transformers_generate_called_directly(tiny, kind):
    loaded = load(str(tiny[kind]))
    prompt, seed = "ambient, calm, piano, 110 bpm, C major", 11
    melody = np.sin(2 * np.pi * 330 * np.arange(4 * RATE) / RATE).astype(np.float32) if kind == "melody" else None
    ours = render(loaded, prompt, 4.0, SAMPLING, seed, 30.0, 10.0, melody)
    # transformers' documented call: the processor, then generate with the sampling arguments, seeded the same
    extra = {} if melody is None else {"audio": melody, "sampling_rate": RATE}
    processed = loaded.processor(text=[prompt], padding=True, return_tensors="pt", **extra)
    torch.manual_seed(seed)
    theirs = loaded.model.generate(**processed, do_sample=True, guidance_scale=3.0, temperature=1.0, top_k=250,
                                   max_new_tokens=200 + 2 - 1)[0].T.numpy()
    assert ours.shape == (4 * RATE, 1) and theirs.shape[0] >= ours.shape[0]
    np.testing.assert_array_equal(ours, theirs[:len(ours)])


def test_a_melody_take_follows_the_sketch_engines_guide_vocal(tiny, tmp_path):
    spec = song(tiny["melody"], melody="sketch")
    guided = take(spec, 5)
    melody, rate = guide_melody(spec.model_copy(update={"seed": 5}))
    assert np.abs(melody).max() > 0.01  # the sketch sings the lyrics
    write_wav(tmp_path / "guide.wav", melody[:, None], rate, "FLOAT")
    np.testing.assert_array_equal(guided, take(song(tiny["melody"], melody=str(tmp_path / "guide.wav")), 5))
    assert not np.allclose(guided, take(song(tiny["melody"]), 5), atol=1e-4)  # the chroma changes the take
    other = np.sin(2 * np.pi * 97 * np.arange(10 * rate) / rate).astype(np.float32)
    write_wav(tmp_path / "other.wav", other[:, None], rate, "FLOAT")
    assert not np.allclose(guided, take(song(tiny["melody"], melody=str(tmp_path / "other.wav")), 5), atol=1e-4)


def test_the_prompt_is_the_songs_free_text_tags_bpm_and_key(tiny):
    spec = song(tiny["text"]).model_copy(update={"genre": ["dark synthwave"], "bpm": 96.0})
    assert text_prompt(spec) == "dark synthwave, calm, piano, 96 bpm, C major"


def test_a_melody_for_a_text_only_model_is_refused_when_the_album_loads(tiny, tmp_path):
    path = tmp_path / "album.yaml"
    path.write_text(yaml.safe_dump({"title": "Beds", "songs": [{"title": "One", "lyrics": LYRICS, "engine": {
        "name": "musicgen", "params": {"model": "musicgen-small", "melody": "sketch"}}}]}))
    with pytest.raises(ParamsError, match="melody.*text-only MusicGen.*musicgen-melody"):
        check_album(load_album(path), models=False)


def test_overlap_longer_than_the_window_is_refused(tiny):
    with pytest.raises(ParamsError, match="overlap_s.*shorter than window_s"):
        engine_params("musicgen", {"model": str(tiny["text"]), "window_s": 10, "overlap_s": 12})


def test_musicgen_is_refused_under_commercial_and_listed_with_its_licence(tiny, tmp_path):
    path = tmp_path / "album.yaml"
    album = {"title": "Beds", "songs": [{"title": "One", "lyrics": LYRICS,
                                         "engine": {"name": "musicgen", "params": {"model": str(tiny["text"])}}}]}
    path.write_text(yaml.safe_dump(album))
    check_album(load_album(path), models=False)  # non-commercial work may use it
    path.write_text(yaml.safe_dump({**album, "commercial": True}))
    with pytest.raises(ParamsError, match="musicgen-render.*CC-BY-NC-4.0.*forbids commercial use"):
        check_album(load_album(path), models=False)

    from app.models_cli import models_app

    listed = CliRunner().invoke(models_app, ["list"]).output
    rows = {line.split()[0]: line for line in listed.splitlines() if line.startswith("musicgen-")}
    assert set(rows) == {"musicgen-small", "musicgen-medium", "musicgen-large", "musicgen-melody"}
    assert all("CC-BY-NC-4.0" in row and "commercial: no" in row for row in rows.values())
    assert any("musicgen/musicgen-render" in line and "commercial: no" in line for line in listed.splitlines())


def test_the_melody_model_reads_the_sung_notes_of_the_sketch_guide_in_its_chroma(tiny):
    """The feature extractor runs here (torchaudio in pure-Python mode) and its chroma holds the guide's notes: at the
    middle of each sung note the loudest of the 12 bins (C = 0) is the note's pitch class."""
    from songforge.audio.io import resample
    from songforge.engine.musicgen.generate import inputs
    from songforge.engine.sketch.engine import SketchEngine

    spec = song(tiny["melody"], duration_s=25.0, melody="sketch")
    stems = SketchEngine().generate(spec, guide_params(), 5)  # the synth voice: festival's formants blur chroma
    melody, rate = guide_melody(spec.model_copy(update={"seed": 5}))
    np.testing.assert_array_equal(melody, stems.vocals.mean(axis=1))
    loaded = load(str(tiny["melody"]))
    chroma = inputs(loaded, "x", resample(melody[:, None], rate, RATE)[:, 0], loaded.model.device)["input_features"]
    frame_s = loaded.processor.feature_extractor.hop_length / RATE
    # notes longer than the extractor's 0.5 s FFT window (n_fft 16384 at 32 kHz): shorter ones smear into their
    # neighbours (9 of them in this 25 s song, all 9 read right; chance is 1 in 12)
    notes = [(start + length / 2, pitch) for start, length, pitch, _ in stems.metadata["vocal_notes"] if length > 0.45]
    heard = [int(chroma[0, int(middle / frame_s)].argmax()) == pitch % 12 for middle, pitch in notes]
    assert len(notes) >= 5 and np.mean(heard) >= 0.8, (len(notes), np.mean(heard))
