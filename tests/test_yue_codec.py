"""X-Codec on a tiny random-weight XcodecModel of the real architecture, written in the official checkpoint layout."""

import json
import os

import numpy as np
import pytest
import torch
from transformers import XcodecModel

from songforge.audio.io import read_audio
from songforge.engine.yue import codec as C
from songforge.engine.yue import prompt as P
from songforge import catalogue
from songforge.engine.yue.tokens import XCODEC_OFFSET
from songforge.errors import EngineError

TINY_HUBERT = {"model_type": "hubert", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
               "intermediate_size": 64, "conv_dim": [8] * 7, "num_conv_pos_embeddings": 16,
               "num_conv_pos_embedding_groups": 2, "conv_bias": False, "feat_extract_norm": "group"}
TINY_DAC = {"encoder_hidden_size": 4, "decoder_hidden_size": 16, "hidden_size": 8}


def tiny_reference() -> XcodecModel:
    """The 'official' model: weight-normed DAC convs with g != |v|, random codebooks and snake alphas."""
    torch.manual_seed(0)
    model = XcodecModel(C.xcodec_mini_config(TINY_HUBERT, **TINY_DAC))
    model.apply_weight_norm()
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            if name.endswith(("original0", ".alpha")):
                tensor.copy_(0.5 + torch.rand_like(tensor))
            elif name.endswith("codebook.embed"):
                tensor.copy_(torch.randn_like(tensor))
    return model.eval()


def write_official(model: XcodecModel, root, drop=(), extra=None, semantic_in_bin=False):
    """The xcodec_mini_infer layout, names mapped with official_name (checked independently below)."""
    state = {C.official_name(k): v.clone() for k, v in model.state_dict().items() if C.official_name(k) not in drop}
    if semantic_in_bin:
        hubert = {k[len("semantic_model."):]: state.pop(k) for k in list(state) if k.startswith("semantic_model.")}
        (root / C.SEMANTIC_WEIGHTS).parent.mkdir(parents=True, exist_ok=True)
        torch.save(hubert, root / C.SEMANTIC_WEIGHTS)
    (root / C.CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"codec_model": state | (extra or {}), "global_step": 360000}, root / C.CHECKPOINT)
    (root / C.SEMANTIC_CONFIG).parent.mkdir(parents=True, exist_ok=True)
    (root / C.SEMANTIC_CONFIG).write_text(json.dumps(TINY_HUBERT))
    return root


@pytest.fixture(scope="module")
def reference():
    return tiny_reference()


@pytest.fixture(scope="module")
def official(reference, tmp_path_factory):
    return write_official(reference, tmp_path_factory.mktemp("xcodec_mini_infer"))


@pytest.fixture(scope="module")
def codec(official, tmp_path_factory):
    dest = C.convert_official(official, tmp_path_factory.mktemp("converted") / "hf")
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors"]
    return C.load_codec(dest, device="cpu")


def test_official_names_are_those_of_the_descript_repcodec_and_encodec_modules(reference):
    names = [C.official_name(k) for k in reference.state_dict()]
    assert len(set(names)) == len(names)  # one to one
    for name in ("encoder.block.0.weight_v", "encoder.block.4.block.2.block.3.weight_g", "encoder.block.5.alpha",
                 "encoder.block.6.bias", "decoder_2.model.2.block.1.weight_v",
                 "decoder_2.model.4.block.4.block.0.alpha",
                 "decoder_2.model.6.weight_g", "encoder_semantic.conv_blocks.1.conv.conv.bias",
                 "decoder_semantic.conv2.conv.weight", "quantizer.vq.layers.11._codebook.embed_avg",
                 "fc_prior.weight", "fc_post2.bias", "semantic_model.encoder.pos_conv_embed.conv.weight_g"):
        assert name in names


def test_real_config_is_12_codebooks_of_1024_at_50_frames_per_second():
    hubert_base = TINY_HUBERT | {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                                 "intermediate_size": 3072, "conv_dim": [512] * 7, "num_conv_pos_embeddings": 128,
                                 "num_conv_pos_embedding_groups": 16}
    config = C.xcodec_mini_config(hubert_base)
    assert (config.num_quantizers, config.codebook_size, config.codebook_dim) == (12, 1024, 1024)
    assert (config.hop_length, config.frame_rate, config.sample_rate) == (320, 50, 16000)
    with torch.device("meta"):
        model = XcodecModel(config)
        model.apply_weight_norm()
    state = {C.official_name(k): tuple(v.shape) for k, v in model.state_dict().items()}
    assert state["decoder_2.model.0.weight_v"] == (1024, 256, 7) and state["fc_post2.weight"] == (256, 1024)
    assert state["encoder.block.6.weight_v"] == (256, 1024, 3) and state["decoder_2.model.4.block.1.weight_v"][1] == 64


def test_converted_codec_decodes_exactly_like_the_original(codec, reference):
    codes = np.random.default_rng(1).integers(0, 1024, (8, 37))
    audio = C.decode(codec, codes.astype(np.uint32))
    with torch.no_grad():
        expected = reference.decode(torch.from_numpy(codes)[None], return_dict=False)[0, 0].numpy()
    assert audio.dtype == np.float32 and audio.shape == (320 * 37,)
    np.testing.assert_allclose(audio, expected, atol=1e-6, rtol=0)
    assert np.abs(audio).max() > 1e-3  # not a silent decoder
    with pytest.raises(EngineError, match="0..1023"):
        C.decode(codec, codes + XCODEC_OFFSET)


def test_embed_is_the_sum_of_the_codebook_rows(codec, official):
    codes = np.random.default_rng(2).integers(0, 1024, (8, 11))
    tables = torch.load(official / C.CHECKPOINT, weights_only=True)["codec_model"]
    expected = sum(tables[f"quantizer.vq.layers.{k}._codebook.embed"][codes[k]] for k in range(8)).T[None]
    got = C.embed(codec, codes)
    assert got.shape == (1, 40, 11)  # (1, 1024, T) at full size: 256 acoustic + 768 semantic
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-6)


def test_encoder_path_matches_the_original_and_codebooks_nest(codec, reference):
    audio = (np.sin(np.linspace(0, 800, 16000 * 2)) * np.linspace(0, 1, 16000 * 2)).astype(np.float32)
    codes = C.encode(codec, audio, 16000, n_codebooks=8)
    with torch.no_grad():
        expected = reference.encode(torch.from_numpy(audio)[None, None], bandwidth=4, return_dict=False)[0].numpy()
    assert codes.shape == (8, 100) and codes.dtype == np.int64
    np.testing.assert_array_equal(codes, expected)
    np.testing.assert_array_equal(C.encode(codec, audio, 16000), codes[:1])  # RVQ: codebook 0 alone is the same
    with pytest.raises(EngineError, match="n_codebooks 5"):
        C.encode(codec, audio, 16000, n_codebooks=5)


def test_encode_of_the_example_song_gives_50_codes_per_second(codec, shared_dir):
    audio, rate = read_audio(shared_dir / "yue" / "data" / "prompt_egs" / "pop.00001.mp3")
    codes = C.encode(codec, audio, rate)  # stereo 44.1 kHz: averaged and resampled inside
    assert codes.shape[0] == 1 and abs(codes.shape[1] - 50 * len(audio) / rate) <= 1
    assert codes.min() >= 0 and codes.max() <= 1023 and len(np.unique(codes)) > 10


def test_icl_prompt_from_encoded_stems_interleaves_vocal_first(codec, shared_dir):
    egs = shared_dir / "yue" / "data" / "prompt_egs"
    vocal, inst = (C.encode(codec, *read_audio(egs / f"pop.00001.{stem}.mp3")) for stem in ("Vocals", "Instrumental"))
    dual = P.reference_dual(vocal, inst, 10, 12)
    assert len(dual) == 200
    assert dual[0::2] == (vocal[0, 500:600] + XCODEC_OFFSET).tolist()
    assert dual[1::2] == (inst[0, 500:600] + XCODEC_OFFSET).tolist()
    assert P.reference_single(vocal, 10, 12) == dual[0::2]


def test_load_codec_converts_the_official_layout_once(reference, tmp_path):
    root = write_official(reference, tmp_path / "xcodec")
    first = C.load_codec(root, device="cpu")
    stamp = os.stat(root / C.CONVERTED / "model.safetensors").st_mtime_ns
    second = C.load_codec(root, device="cpu")
    assert os.stat(root / C.CONVERTED / "model.safetensors").st_mtime_ns == stamp  # not converted again
    codes = np.zeros((8, 3), np.int64)
    np.testing.assert_array_equal(C.decode(first, codes), C.decode(second, codes))
    assert first.dtype == torch.float32 and not first.training


def test_hubert_weights_may_come_from_the_semantic_checkpoint(reference, tmp_path):
    root = write_official(reference, tmp_path / "xcodec", semantic_in_bin=True)
    codec = C.load_codec(root, device="cpu")
    name = "semantic_model.encoder.layers.1.attention.k_proj.weight"
    torch.testing.assert_close(codec.state_dict()[name], reference.state_dict()[name], atol=0, rtol=0)


def test_missing_or_unexpected_keys_are_named(reference, tmp_path):
    root = write_official(reference, tmp_path / "a", drop=("decoder_2.model.3.block.1.weight_v",))
    with pytest.raises(EngineError, match=r"missing keys \['decoder_2\.model\.3\.block\.1\.weight_v'\]"):
        C.convert_official(root, root / "hf")
    root = write_official(reference, tmp_path / "b", extra={"decoder.model.0.weight_g": torch.ones(1)})
    with pytest.raises(EngineError, match=r"unexpected keys \['decoder\.model\.0\.weight_g'\]"):
        C.convert_official(root, root / "hf")
    assert not (root / "hf").exists()


def test_missing_folder_names_the_file_and_the_pull_command(tmp_path):
    with pytest.raises(EngineError, match=r"ckpt_00360000\.pth is missing.*songforge models pull xcodec"):
        C.load_codec(tmp_path / "nowhere", device="cpu")
    (tmp_path / "x" / "final_ckpt").mkdir(parents=True)
    (tmp_path / "x" / C.CHECKPOINT).write_bytes(b"")
    with pytest.raises(EngineError, match=r"hf_1_325000/config\.json is missing.*songforge models pull xcodec"):
        C.load_codec(tmp_path / "x", device="cpu")


def test_a_failed_conversion_leaves_no_half_written_folder(official, tmp_path, monkeypatch):
    save = XcodecModel.save_pretrained

    def save_then_fail(self, folder, **kwargs):
        save(self, folder, **kwargs)  # the files are written, then the disk fills up
        raise OSError("No space left on device")

    monkeypatch.setattr(XcodecModel, "save_pretrained", save_then_fail)
    with pytest.raises(OSError):
        C.convert_official(official, tmp_path / "hf")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "model.safetensors").write_text("previous conversion")
    with pytest.raises(OSError):
        C.convert_official(official, tmp_path / "hf")
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]
    assert (tmp_path / "hf" / "model.safetensors").read_text() == "previous conversion"


def test_pull_xcodec_fetches_the_checkpoints_then_converts(reference, tmp_path, monkeypatch):
    # Mocked: the Hugging Face hub cannot be reached here; the fake writes the official layout as a download would.
    calls = []

    def fake_download(repo_id, local_dir, allow_patterns, revision):
        calls.append((repo_id, allow_patterns))
        write_official(reference, local_dir)

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    dest = catalogue.pull("xcodec", tmp_path / "xcodec")
    repo, patterns = calls[0]
    assert repo == "m-a-p/xcodec_mini_infer" and "decoders/*" in patterns and "final_ckpt/*" in patterns
    assert (dest / C.CONVERTED / "model.safetensors").is_file()
    assert C.load_codec(dest, device="cpu").config.num_quantizers == 12
