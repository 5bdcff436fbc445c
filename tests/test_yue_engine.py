"""YuEEngine end to end on tiny random-weight models of the real architectures (CPU).

No YuE weights exist here. The tests build a 2-layer LLaMA with YuE's vocabulary for each stage, a
tiny X-Codec in the official xcodec_mini_infer layout and tiny Vocos decoders, save them where the
real loaders look (SONGFORGE_MODELS), and run the real code paths. The audio is noise: these tests
check plumbing, shapes, layouts, determinism and caching, never musical quality.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from typer.testing import CliRunner

from songforge.engine.yue.engine import folder_identity
from songforge.engine.yue.steps import YuEEngine
from songforge.params import AlbumSpec
from songforge.plan import plan_song
from songforge.engine.yue.tokens import load_codes
from songforge.params import SongSpec

LYRICS = "[verse]\nCity lights are fading\n\n[chorus]\nHold on, the night is over\n"
TINY = {"max_new_tokens": 24, "min_new_tokens": 0}


def tiny_llama(folder, seed: int, tokenizer=None) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=83968, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16384,
                         tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(folder)
    if tokenizer is not None:
        shutil.copy(tokenizer, folder / "tokenizer.model")


def tiny_xcodec(root) -> None:
    """A tiny X-Codec and two tiny Vocos decoders in the official xcodec_mini_infer layout.

    The decoders keep the real 882-sample hop and 3528-point FFT, so 16 kHz and 44.1 kHz frames line up.
    """
    from test_yue_codec import tiny_reference, write_official
    from test_yue_upsampler import random_decoder, write_official as write_decoders

    from songforge.engine.yue.codec import embed, load_codec
    from songforge.engine.yue.upsampler import VocosConfig

    write_official(tiny_reference(), root)
    channels = embed(load_codec(root), np.zeros((8, 2), dtype=np.int64)).shape[1]
    config = VocosConfig(input_channels=channels, dim=8, intermediate_dim=12, num_layers=2)
    write_decoders(root, random_decoder(1, config), random_decoder(2, config), config=config)


@pytest.fixture(scope="module")
def models(tmp_path_factory, shared_dir):
    root = tmp_path_factory.mktemp("models")
    tiny_llama(root / "yue-en-cot", 0, shared_dir / "yue" / "data" / "tokenizer.model")
    tiny_llama(root / "yue-s2", 1)
    tiny_xcodec(root / "xcodec")
    patch = pytest.MonkeyPatch()
    patch.setenv("SONGFORGE_MODELS", str(root))
    yield root
    patch.undo()


def song(**params) -> SongSpec:
    return SongSpec(title="Tiny", lyrics=LYRICS, genre=["pop"], seed=3,
                    engine={"name": "yue", "params": {**TINY, **params}})


def song_yaml(folder) -> Path:
    """song() as a params file, for the CLI."""
    path = folder / "song.yaml"
    path.write_text(yaml.safe_dump({"title": "Tiny", "genre": ["pop"], "seed": 3, "lyrics": LYRICS,
                                    "engine": {"name": "yue", "params": TINY}}))
    return path


def step_params(one: SongSpec) -> dict:
    """Each step of the song's plan -> its params slice (what the step's cache key holds)."""
    return {planned.name: planned.params for planned in plan_song(one, AlbumSpec(title="A", songs=[one])).steps}


def test_each_step_is_keyed_on_its_own_params():
    from tasks.cache import canonical

    base, changed = step_params(song()), step_params(song(stage2_model="/elsewhere/yue-s2"))
    assert list(base) == ["lyrics", "yue-stage1", "yue-stage2", "yue-decode", "mix", "master", "measure", "flags",
                          "plots"]
    assert base["yue-stage1"] == changed["yue-stage1"] and base["yue-stage2"] != changed["yue-stage2"]
    assert base["yue-decode"].settings == changed["yue-decode"].settings
    rebatched = step_params(song(stage1_batch_size=2, stage2_batch_size=1, memory="resident"))
    assert canonical(rebatched) == canonical(base)  # batching and residency change no output
    later = step_params(song(low_band_hz=4000))
    assert later["yue-stage1"] == base["yue-stage1"] and later["yue-stage2"] == base["yue-stage2"]
    assert later["yue-decode"] != base["yue-decode"]
    assert step_params(song(temperature=0.8))["yue-stage1"] != base["yue-stage1"]


def test_identity_follows_the_model_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path))
    assert folder_identity("yue-s2").endswith(":absent")
    tiny_llama(tmp_path / "yue-s2", 1)
    first = folder_identity("yue-s2")
    (tmp_path / "yue-s2" / "config.json").write_text((tmp_path / "yue-s2" / "config.json").read_text() + " ")
    assert first != folder_identity("yue-s2") and not first.endswith(":absent")


def test_missing_weights_name_the_file_and_the_pull_command(tmp_path, monkeypatch):
    from songforge.errors import EngineError

    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path))
    engine = YuEEngine()
    with pytest.raises(EngineError, match=r"songforge models pull yue-en-cot"):
        engine.generate(song(), engine.Params.model_validate(TINY), seed=0)


def test_lyrics_to_44k_stems_same_seed_same_audio(models):
    engine = YuEEngine()
    params = engine.Params.model_validate(TINY)
    first = engine.generate(song(), params, seed=5)
    again = engine.generate(song(), params, seed=5)
    assert first.sample_rate == 44_100 and first.vocals.shape[1] == 2 and first.vocals.dtype == np.float32
    assert first.vocals.shape == first.instrumental.shape == first.mix.shape
    frames = len(first.vocals) / 882  # 50 frames per second at 44.1 kHz
    assert frames == int(frames) and 10 <= frames <= TINY["max_new_tokens"]  # 2 segments, 2 tracks interleaved
    np.testing.assert_array_equal(first.vocals, again.vocals)
    assert np.isfinite(first.mix).all() and np.abs(first.vocals).max() > 0
    assert first.metadata["engine"] == "yue" and first.metadata["seed"] == 5


def test_cli_steps_write_the_official_npy_layout_and_decode(models, tmp_path):
    from app.cli import app

    song_file = song_yaml(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["yue", "stage1", str(song_file), "--out", str(tmp_path / "s1")])
    assert result.exit_code == 0, result.output
    vtrack, itrack = tmp_path / "s1" / "tiny_vtrack.npy", tmp_path / "s1" / "tiny_itrack.npy"
    raw = np.load(vtrack)
    assert raw.dtype == np.uint32 and raw.ndim == 2 and raw.shape[0] == 1 and raw.max() < 1024
    assert np.load(itrack).shape == raw.shape

    result = runner.invoke(app, ["yue", "stage2", str(vtrack), str(itrack), "--out", str(tmp_path / "s2"),
                                 "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    codes = np.load(tmp_path / "s2" / "tiny_vtrack.npy")
    assert codes.dtype == np.uint32 and codes.shape == (8, raw.shape[1]) and codes.max() < 1024
    np.testing.assert_array_equal(codes[0], raw[0])  # stage 2 keeps codebook 0 as given

    result = runner.invoke(app, ["yue", "decode", str(tmp_path / "s2" / "tiny_vtrack.npy"),
                                 str(tmp_path / "s2" / "tiny_itrack.npy"), "--out", str(tmp_path / "audio")])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(tmp_path / "audio" / "mix.wav")
    assert rate == 44_100 and abs(len(audio) - 882 * raw.shape[1]) <= 882

    result = runner.invoke(app, ["yue", "encode", str(tmp_path / "audio" / "mix.wav"),
                                 "--out", str(tmp_path / "prompt.npy")])
    assert result.exit_code == 0, result.output
    prompt = load_codes(tmp_path / "prompt.npy")
    assert prompt.shape[0] == 1 and abs(prompt.shape[1] - raw.shape[1]) <= 2


def test_audio_prompts_become_50_or_100_ids_per_second(models, tmp_path):
    from songforge.engine.yue.engine import reference_ids
    from songforge.engine.yue.tokens import codebook_range

    rng = np.random.default_rng(0)
    for name in ("mix", "vocals", "instrumental"):
        sf.write(tmp_path / f"{name}.wav", rng.normal(0, 0.1, (3 * 22_050, 2)), 22_050)
    window = {"prompt_start_s": 0.5, "prompt_end_s": 2.5}
    single = reference_ids(song(prompt_audio=str(tmp_path / "mix.wav"), **window).engine.params.stage1())
    dual = reference_ids(song(prompt_vocals=str(tmp_path / "vocals.wav"),
                              prompt_instrumental=str(tmp_path / "instrumental.wav"), **window)
                         .engine.params.stage1())
    lo, hi = codebook_range(0)
    assert len(single) == 100 and len(dual) == 200
    assert all(lo <= i < hi for i in single + dual)
    assert reference_ids(song().engine.params.stage1()) is None


def test_models_stay_loaded_only_when_asked(models):
    from songforge.engine.yue import engine as E

    E.release_models()
    assert E._model("yue-s2", "auto", keep=False) is not E._model("yue-s2", "auto", keep=False)
    kept = E._model("yue-s2", "auto", keep=True)
    assert E._model("yue-s2", "auto", keep=True, int8=True) is not kept
    assert E._model("yue-s2", "auto", keep=False) is kept
    E.release_models()
    assert E._model("yue-s2", "auto", keep=False) is not kept
    E.release_models()
    assert step_params(song(memory="int8"))["yue-stage1"].settings.int8  # int8 changes the logits: in the key


def test_batched_seed_takes_equal_each_seed_alone(models, tmp_path):
    from app.cli import app

    song_file = song_yaml(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["yue", "stage1", str(song_file), "--out", str(tmp_path / "batch"), "--seeds", "3,4"])
    assert result.exit_code == 0, result.output
    alone = runner.invoke(app, ["yue", "stage1", str(song_file), "--out", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output
    np.testing.assert_array_equal(np.load(tmp_path / "batch" / "tiny-seed3_vtrack.npy"),
                                  np.load(tmp_path / "alone" / "tiny_vtrack.npy"))
    assert not np.array_equal(np.load(tmp_path / "batch" / "tiny-seed4_itrack.npy"),
                              np.load(tmp_path / "batch" / "tiny-seed3_itrack.npy"))
    bad = runner.invoke(app, ["yue", "stage1", str(song_file), "--seeds", "3,x"])
    assert bad.exit_code == 2 and "--seeds" in bad.output
