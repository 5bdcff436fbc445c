"""Tiny random MuQ, MuQ-MuLan and SongEval models of the real architectures, saved as a pull lays them out, and the
`muq` reference package made importable here (for parity). Never the real models: their weights cannot be
downloaded here.

The reference package cannot run here as published: `muq.muq_mulan.models.text` imports `x_clip`, whose
package __init__ imports torchvision (which must never be installed beside our torch); and its MuQModel reads
`hidden_states` from transformers' Wav2Vec2ConformerEncoder, which transformers 5 no longer returns (and hands it
an EasyDict config without `_attn_implementation`). `reference_muq()` imports x_clip's tokenizer module alone
(the package __init__ skipped), and `adapt_reference` gives a reference MuQ the encoder loop of transformers 4
(each layer's input collected, the final LayerNorm's output last), the one piece that cannot exist here.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import types
from pathlib import Path

import torch

MUQ_STAT = {"melspec_2048_cnt": 1, "melspec_2048_mean": 6.768444971712967, "melspec_2048_std": 18.417922652295623}
STYLE_WORDS = ["pop rock guitar upbeat female vocals", "ballad piano sad male voice", "electronic synth dance"]


def tiny_muq_config(depth: int = 2) -> dict:
    """A MuQ config.json of the real layout (relative-position Conformer as MuQ-large's), tiny sizes."""
    from transformers import Wav2Vec2ConformerConfig

    w2v2 = Wav2Vec2ConformerConfig(hidden_size=32, num_hidden_layers=depth, num_attention_heads=2,
                                   intermediate_size=64, conv_depthwise_kernel_size=7,
                                   position_embeddings_type="relative")
    return {"label_rate": 25, "num_codebooks": 1, "codebook_dim": 16, "codebook_size": 16,
            "features": ["melspec_2048"], "hop_length": 240, "n_mels": 128, "conv_dim": 8, "encoder_dim": 32,
            "encoder_depth": depth, "stat": MUQ_STAT, "w2v2_config": json.loads(w2v2.to_json_string(use_diff=False))}


def tiny_mulan_config(muq_name: str = "OpenMuQ/MuQ-large-msd-iter", text_name: str = "xlm-roberta-base") -> dict:
    """A MuQ-MuLan config.json as the hub's (same fields), tiny sizes (audio tower depth 0, as the large one's)."""
    tower = {"dim": 32, "heads": 2, "dim_head": 16, "attn_dropout": 0, "ff_dropout": 0, "ff_mult": 4}
    return {"mulan": {"sr": 24000, "clip_secs": 4, "dim_latent": 16, "decoupled_contrastive_learning": True,
                      "hierarchical_contrastive_loss": False, "hierarchical_contrastive_loss_layers": None,
                      "sigmoid_contrastive_loss": False, "rank_contrast": True},
            "audio_model": {"name": muq_name, "model_dim": 32, "use_layer_idx": -1},
            "text_model": {"name": text_name, "model_dim": None, "use_layer_idx": -1},
            "audio_transformer": {**tower, "tf_depth": 0},
            "text_transformer": {**tower, "tf_depth": 2, "max_seq_len": 64}}


def write_text_model(folder: Path, seed: int = 0) -> Path:
    """folder: a tiny XLM-RoBERTa (config, weights) and its tokenizer, from a sentencepiece model trained here."""
    import sentencepiece as spm
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(STYLE_WORDS * 30), model_writer=model, vocab_size=36,
                                   model_type="unigram", hard_vocab_limit=False, minloglevel=2)
    (folder / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    tokenizer = XLMRobertaTokenizer.from_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(seed)
    XLMRobertaModel(XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)).save_pretrained(str(folder))
    return folder


def write_tiny_mulan(folder: Path, seed: int = 0) -> Path:
    """A pulled-looking muq-mulan folder (config.json, model.safetensors, muq/config.json, xlm-roberta-base/), random
    weights from our own modules, saved under the checkpoint's names (`mulan.`...)."""
    from safetensors.torch import save_file
    from transformers import XLMRobertaModel

    from songforge.judge.mulan import MuLanModel
    from songforge.judge.muq import MuQ, MuQConfig

    (folder / "muq").mkdir(parents=True, exist_ok=True)
    (folder / "muq" / "config.json").write_text(json.dumps(tiny_muq_config()))
    text = write_text_model(folder / "xlm-roberta-base", seed)
    config = tiny_mulan_config()
    (folder / "config.json").write_text(json.dumps(config))
    torch.manual_seed(seed)
    model = MuLanModel(config, MuQ(MuQConfig.of(tiny_muq_config())), XLMRobertaModel.from_pretrained(str(text)))
    save_file({f"mulan.{key}": value.contiguous() for key, value in model.state_dict().items()},
              str(folder / "model.safetensors"))
    return folder


def reference_muq():
    """The `muq` package, importable here (x_clip's tokenizer module without its torchvision-bound __init__);
    raises ImportError with the reason when it is not installed."""
    if "x_clip" not in sys.modules:
        spec = importlib.util.find_spec("x_clip")
        if spec is None:
            raise ImportError("x-clip is not installed (pip install --no-deps muq==0.1.0 x-clip easydict ftfy)")
        package = types.ModuleType("x_clip")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["x_clip"] = package
    import muq

    return muq


def adapt_reference(muq_module) -> None:
    """Give a reference MuQ's Conformer transformers 4's output (see the module docstring)."""
    conformer = muq_module.model.conformer
    conformer.config._attn_implementation = "eager"

    def forward(hidden_states, attention_mask=None, output_hidden_states=True, **_):
        positions = conformer.embed_positions(hidden_states) if conformer.embed_positions is not None else None
        states = ()
        for layer in conformer.layers:
            states += (hidden_states,)
            hidden_states = layer(hidden_states, attention_mask=None, relative_position_embeddings=positions)
        hidden_states = conformer.layer_norm(hidden_states)
        return {"last_hidden_state": hidden_states, "hidden_states": states + (hidden_states,)}

    conformer.forward = forward


def write_tiny_muq(folder: Path, seed: int = 0, depth: int = 6) -> Path:
    """A MuQ folder as `muq.MuQ.save_pretrained` leaves it (config.json + model.safetensors), random weights."""
    from safetensors.torch import save_file

    from songforge.judge.muq import MuQ, MuQConfig

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(tiny_muq_config(depth)))
    torch.manual_seed(seed)
    save_file({key: value.contiguous() for key, value in MuQ(MuQConfig.of(tiny_muq_config(depth))).state_dict().items()},
              str(folder / "model.safetensors"))
    return folder


SONGEVAL_HEAD = {"_target_": "model.Generator", "in_features": 32, "ffd_hidden_size": 64, "num_classes": 5,
                 "attn_layer_num": 2}


def write_tiny_songeval(folder: Path, seed: int = 0, head=None) -> Path:
    """A SongEval folder as its repository lays it out (config.yaml, ckpt/model.safetensors), random weights (or
    `head`'s) for features of the tiny MuQ's width."""
    import yaml
    from safetensors.torch import save_file

    from songforge.judge.songeval import Generator

    (folder / "ckpt").mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"generator": SONGEVAL_HEAD}))
    torch.manual_seed(seed)
    head = head or Generator(**{key: value for key, value in SONGEVAL_HEAD.items() if key != "_target_"})
    save_file({key: value.contiguous() for key, value in head.state_dict().items()},
              str(folder / "ckpt" / "model.safetensors"))
    return folder
