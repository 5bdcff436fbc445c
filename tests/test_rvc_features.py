"""ContentVec through transformers (a tiny HubertModel of the real frame rate and width, saved and loaded by the real
loader) and feature retrieval from a faiss index built here as RVC's train-index builds one."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from rvc_tiny import write_contentvec, write_index
from songforge.errors import EngineError
from songforge.voice.rvc.features import content_features, load_contentvec
from songforge.voice.rvc.index import NEIGHBOURS, load_index, retrieve


def test_contentvec_gives_768_values_every_20ms(tmp_path):
    model = load_contentvec(write_contentvec(tmp_path / "contentvec"))
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    features = content_features(model, audio)
    assert features.shape == ((16000 - 400) // 320 + 1, 768) and np.isfinite(features).all()
    assert not np.allclose(features, content_features(model, audio[::-1].copy()))


def test_contentvec_in_the_older_layout_loads_the_same_weights(tmp_path):
    """content-vec-best is a pytorch_model.bin written by an older transformers for a HubertModel with RVC v1's
    final_proj: positional-conv weight norm as weight_g/weight_v, and two tensors v2 does not use."""
    import torch

    folder = write_contentvec(tmp_path / "new")
    model = load_contentvec(folder)
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text((folder / "config.json").read_text())
    weights = {name.replace("parametrizations.weight.original0", "weight_g")
               .replace("parametrizations.weight.original1", "weight_v"): tensor
               for name, tensor in model.state_dict().items()}
    torch.save({**weights, "final_proj.weight": torch.zeros(256, 768), "final_proj.bias": torch.zeros(256)},
               old / "pytorch_model.bin")
    audio = np.random.default_rng(2).standard_normal(8000).astype(np.float32)
    assert np.allclose(content_features(load_contentvec(old), audio), content_features(model, audio), atol=1e-5)


def test_contentvec_missing_or_of_another_width_is_refused_with_the_fix(tmp_path):
    with pytest.raises(EngineError, match="songforge models pull contentvec"):
        load_contentvec(tmp_path / "nothing")
    from transformers import HubertConfig, HubertModel

    HubertModel(HubertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=32,
                             conv_dim=(8,) * 7)).save_pretrained(tmp_path / "narrow")
    with pytest.raises(EngineError, match="64-dim features; RVC v2 voices read 768"):
        load_contentvec(tmp_path / "narrow")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return load_index(write_index(tmp_path_factory.mktemp("voice") / "voice.index"))


def test_retrieval_blends_the_8_nearest_weighted_as_rvc_does(index):
    faiss.extract_index_ivf(index.index).nprobe = 4  # every cell searched: the exact neighbours, for the reference
    features = np.random.default_rng(1).standard_normal((5, 768)).astype(np.float32)
    blended = retrieve(features, index, 0.4)
    distances = ((features[:, None, :] - index.vectors[None]) ** 2).sum(-1)  # exhaustive squared L2
    for t in range(5):
        nearest = np.argsort(distances[t])[:NEIGHBOURS]
        weights = 1 / distances[t, nearest] ** 2
        expected = 0.4 * (weights / weights.sum()) @ index.vectors[nearest] + 0.6 * features[t]
        assert np.allclose(blended[t], expected, atol=1e-4)
    assert np.array_equal(retrieve(features, index, 0.0), features)


def test_a_training_feature_retrieves_itself(index):
    blended = retrieve(index.vectors[7:8], index, 1.0)
    assert np.allclose(blended, index.vectors[7:8], atol=1e-5)


def test_an_index_of_another_width_is_refused(tmp_path):
    narrow = faiss.IndexFlatL2(256)
    narrow.add(np.zeros((3, 256), np.float32))
    faiss.write_index(narrow, str(tmp_path / "v1.index"))
    with pytest.raises(EngineError, match="256 values.*768"):
        load_index(tmp_path / "v1.index")
    (tmp_path / "junk.index").write_bytes(b"not faiss")
    with pytest.raises(EngineError, match="not a faiss index"):
        load_index(tmp_path / "junk.index")
