"""YuE's LLaMA and weight loading against transformers' own LlamaForCausalLM (tiny random weights, CPU)."""

import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessor

from songforge.engine.yue.model import CONFIGS, ModelArgs, build_model
from songforge.catalogue import pull
from songforge.engine.yue.weights import MODELS, load_model, weight_map
from songforge.errors import EngineError, ParamsError

VOCAB = 83968  # YuE's real vocabulary: the tiny model shares the embedding/head shapes, nothing else


def tiny_hf(seed: int = 0, n_kv_heads: int = 2) -> LlamaForCausalLM:
    """A random 2-layer LLaMA with YuE's vocabulary (shared by the test_yue_* files)."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=n_kv_heads, max_position_embeddings=4096,
                         rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1,
                         eos_token_id=2)
    return LlamaForCausalLM(config).eval()


def tiny_pair(folder, n_kv_heads: int = 2):
    """(transformers model, our model loaded from its save_pretrained folder), float32 on CPU."""
    hf = tiny_hf(n_kv_heads=n_kv_heads)
    hf.save_pretrained(folder)
    return hf, load_model(folder, "cpu")


class BlockTokenRange(LogitsProcessor):
    """The official infer.py processor: scores[:, start:end] = -inf."""

    def __init__(self, start: int, end: int):
        self.ids = list(range(start, end))

    def __call__(self, input_ids, scores):
        scores[:, self.ids] = -float("inf")
        return scores


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    hf = tiny_hf()
    folder = tmp_path_factory.mktemp("yue-en-cot")
    hf.save_pretrained(folder)
    return hf, folder


def test_loaded_logits_equal_transformers(saved):
    hf, folder = saved
    model = load_model(folder, device="cpu")
    assert model.output.weight.dtype == torch.float32 and model.args.n_kv_heads == 2
    model.setup_caches(max_batch=2, max_seq_len=128)
    ids = torch.randint(0, VOCAB, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(ids, torch.arange(48).expand(2, 48))
        reference = hf(ids).logits
    assert ours.shape == reference.shape == (2, 48, VOCAB)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


def test_bin_checkpoint_loads_the_same(saved, tmp_path):
    hf, folder = saved
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    a, b = load_model(folder, "cpu"), load_model(tmp_path, "cpu")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_cached_decoding_equals_full_forward(saved):
    model = load_model(saved[1], "cpu")
    model.setup_caches(max_batch=1, max_seq_len=64)
    ids = torch.randint(0, VOCAB, (1, 30), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(ids, torch.arange(30)[None])
        steps = [model(ids[:, :20], torch.arange(20)[None], last_only=True)]
        steps += [model(ids[:, t:t + 1], torch.tensor([[t]])) for t in range(20, 30)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full[:, 19:], atol=1e-5, rtol=1e-5)


def test_rows_at_different_positions_are_independent(saved):
    """One batch holds a long conditional row and a fresh row at position 0 (classifier-free guidance)."""
    model = load_model(saved[1], "cpu")
    model.setup_caches(max_batch=2, max_seq_len=64)
    ids = torch.randint(0, VOCAB, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        alone_long = model(ids, torch.arange(12)[None])[:, -1]
        alone_short = model(ids[:, -1:], torch.tensor([[0]]))[:, -1]
        model(ids[:, :11], torch.arange(11)[None])  # row 0 prefill; row 1 untouched
        both = model(ids[:, -1:].expand(2, 1), torch.tensor([[11], [0]]))[:, -1]
    torch.testing.assert_close(both, torch.cat([alone_long, alone_short]), atol=1e-5, rtol=1e-5)


def test_missing_files_name_the_file_and_the_pull_command(saved, tmp_path):
    folder = tmp_path / "yue-en-cot"
    folder.mkdir()
    with pytest.raises(EngineError, match=r"config\.json is missing.*songforge models pull yue-en-cot"):
        load_model(folder)
    (folder / "config.json").write_text((saved[1] / "config.json").read_text())
    with pytest.raises(EngineError, match=r"model\.safetensors is missing.*songforge models pull yue-en-cot"):
        load_model(folder)


def test_checkpoint_that_does_not_match_raises(saved, tmp_path):
    hf, folder = saved
    state = {k: v for k, v in hf.state_dict().items() if "layers.1.mlp.up_proj" not in k}
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(EngineError, match="up_proj"):
        load_model(tmp_path, "cpu")


def test_config_reading_and_presets():
    config = json.loads(tiny_hf().config.to_json_string())
    assert ModelArgs.from_hf_config(config) == ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2,
                                                         intermediate_size=172, max_seq_len=4096)
    with pytest.raises(EngineError, match="rope_type"):
        ModelArgs.from_hf_config(config | {"rope_parameters": {"rope_type": "linear", "rope_theta": 1e4}})
    with pytest.raises(EngineError, match="tie_word_embeddings"):
        ModelArgs.from_hf_config(config | {"tie_word_embeddings": True})
    assert CONFIGS["tiny"].vocab_size == CONFIGS["s1-7b"].vocab_size == VOCAB
    assert CONFIGS["s1-7b"].head_dim == 128 and CONFIGS["s1-7b"].n_heads // CONFIGS["s1-7b"].n_kv_heads == 8
    assert len(weight_map(32)) == 3 + 32 * 7
    assert sum(p.numel() for p in build_model("tiny").parameters()) == 2 * VOCAB * 64 + 64 + 2 * (
        64 * 128 + 64 * 64 + 3 * 64 * 172 + 2 * 64)


def test_pull_error_paths(tmp_path, monkeypatch):
    with pytest.raises(ParamsError, match="yue-en-cot"):
        pull("yue-en-typo", tmp_path)
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EngineError, match=f"{MODELS['yue-s2']}.*songforge models pull yue-s2"):
        pull("yue-s2", tmp_path)
