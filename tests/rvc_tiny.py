"""Tiny random-weight RVC files in the real layouts, for the voice-refinement tests (not a test module).

- a voice `.pth` as RVC's trainer saves it (process_ckpt.savee): {"weight": fp16 tensors with weight norm as
  `weight_g`/`weight_v`, no `enc_q`}, "config": the 18-entry list, "info", "sr", "f0": 1, "version": "v2"};
  real upsampling (so the real hop and rates), tiny channels;
- a ContentVec folder: a transformers HubertModel of the real frame rate (conv strides and kernels) and the real
  768-dim output, two layers, saved and loaded by transformers itself;
- a faiss IVF index of 768-dim features, built as RVC's train-index does (index_factory 'IVF<n>,Flat').
Random weights test the code paths and layouts, never what a real voice sounds like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from songforge.voice.rvc.model import SynthConfig, SynthesizerTrnMs768NSFsid

# config lists as RVC writes them (filter_length // 2 + 1, segment 32, inter, hidden, filter, heads, layers, kernel,
# dropout, resblock, kernels, dilations, upsample rates, initial channel, upsample kernels, speakers, gin, rate)
REAL_40K = [1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3, [10, 10, 2, 2], 512,
            [16, 16, 4, 4], 109, 256, 40000]
REAL_48K = [1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3, [12, 10, 2, 2], 512,
            [24, 20, 4, 4], 109, 256, 48000]


def tiny(config: list) -> list:
    """A real config with tiny widths (the upsampling, and so the rate and hop, kept)."""
    small = list(config)
    small[2:7] = [8, 16, 32, 2, 2]  # inter, hidden, filter channels, heads, layers
    small[13], small[15], small[16] = 32, 4, 8  # upsample_initial_channel, speakers, gin_channels
    return small


# Which layers RVC's trainer wraps in torch.nn.utils.weight_norm (infer_pack/models.py, modules.py):
# the generator's upsamplers and resblock convolutions, and every convolution of the flow's WN stacks.
WEIGHT_NORMED = ("dec.ups.", "dec.resblocks.", ".enc.in_layers.", ".enc.res_skip_layers.", ".enc.cond_layer")


def trainer_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights as the trainer's state dict holds them: weight-normed layers as weight_g/weight_v, fp16."""
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)) and any(
                part in name + "." for part in WEIGHT_NORMED):
            torch.nn.utils.weight_norm(module)
    return {name: tensor.detach().half() for name, tensor in model.state_dict().items()}


def untrained(config: list, seed: int = 0) -> SynthesizerTrnMs768NSFsid:
    """The synthesizer as RVC's trainer initialises it: generator convolutions ~ N(0, 0.01) (init_weights), the
    flow's couplings at identity (their `post` zeroed), everything else PyTorch's default."""
    torch.manual_seed(seed)
    model = SynthesizerTrnMs768NSFsid(SynthConfig.from_list(config))
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.startswith(("dec.ups.", "dec.resblocks.")) and hasattr(module, "weight"):
                module.weight.normal_(0.0, 0.01)
            if name.endswith(".post"):
                module.weight.zero_()
                module.bias.zero_()
    return model


def write_voice(path: Path, config: list, seed: int = 0, model: torch.nn.Module | None = None) -> Path:
    """A voice file as the trainer writes it: of `model`, else of an untrained synthesizer of `config`."""
    model = model if model is not None else untrained(config, seed)
    rate = {32000: "32k", 40000: "40k", 48000: "48k"}[config[-1]]
    torch.save({"weight": trainer_weights(model), "config": config, "info": "20epoch", "sr": rate, "f0": 1,
                "version": "v2"}, path)
    return path


def write_contentvec(folder: Path, seed: int = 0) -> Path:
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(seed)
    config = HubertConfig(hidden_size=768, num_hidden_layers=2, num_attention_heads=12, intermediate_size=64,
                          conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    HubertModel(config).save_pretrained(folder)
    return folder


def write_index(path: Path, vectors: int = 256, seed: int = 0) -> Path:
    import faiss

    features = np.random.default_rng(seed).standard_normal((vectors, 768)).astype(np.float32)
    index = faiss.index_factory(768, "IVF4,Flat")
    index.train(features)
    index.add(features)
    faiss.write_index(index, str(path))
    return path


def probe(config: list, seed: int = 0) -> SynthesizerTrnMs768NSFsid:
    """An untrained voice whose generator passes its NSF excitation straight to the output (a sine where the F0 is
    voiced, noise elsewhere), so the output's timing is the pipeline's alone: the source's linear unit is 1, the
    last stage's noise convolution copies the excitation to every channel, the upsamplers, the other noise
    convolutions and the resblocks are zero, and conv_post reads one channel's middle tap."""
    model = untrained(config, seed)
    dec = model.dec
    with torch.no_grad():
        for module in [*dec.ups, *dec.noise_convs[:-1], *dec.resblocks.modules()]:
            for tensor in module.parameters(recurse=False):
                tensor.zero_()
        dec.m_source.l_linear.weight.fill_(1.0)
        dec.m_source.l_linear.bias.zero_()
        dec.noise_convs[-1].weight.fill_(1.0)
        dec.noise_convs[-1].bias.zero_()
        dec.conv_post.weight.zero_()
        dec.conv_post.weight[0, 0, 3] = 1.0
    return model
