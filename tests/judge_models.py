"""Random-weight judge models for tests, written the way the real loaders read them, and never passed off as the real
ones: each lives in a folder of one's own named for what it is (a song names it by path), not under a catalogue name.

- a tiny random CLAP (the real HTSAT + RoBERTa architecture, shrunk; fusion on, as larger_clap_music) with the
  real default ClapFeatureExtractor (48 kHz, fusion) and a byte-level BPE tokenizer built in memory;
- a random Audiobox Aesthetics model: the package fixes its WavLM's size, so this one is full size (94 M random
  weights, 378 MB) with random heads and target transforms, saved as the hub's config.json + model.safetensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from songforge.audio.io import write_wav

TINY_CLAP = "tiny-random-clap"
RANDOM_AESTHETICS = "random-audiobox-aesthetics"
LYRICS = "[verse]\nLittle light upon the hill\nShining on and shining still\n"


def byte_tokenizer():
    """A RoBERTa tokenizer over the 256 byte symbols and no merges (what CLAP's tokenizer is, minus its merges)."""
    from transformers import RobertaTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *bytes_to_unicode().values()]
    return RobertaTokenizer(vocab={symbol: n for n, symbol in enumerate(symbols)}, merges=[])


def write_tiny_clap(folder: Path, seed: int = 0) -> Path:
    """A tiny random ClapModel + ClapProcessor saved with save_pretrained into `folder`."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    tokenizer = byte_tokenizer()
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=37, max_position_embeddings=100, projection_dim=16),
        audio_config=dict(hidden_size=32, patch_embeds_hidden_size=16, depths=[1, 1], num_attention_heads=[2, 2],
                          num_hidden_layers=2, projection_dim=16, enable_fusion=True, fusion_type="aff_2d"),
        projection_dim=16)
    torch.manual_seed(seed)
    ClapModel(config).save_pretrained(folder)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(), tokenizer=tokenizer).save_pretrained(folder)
    return Path(folder)


AXIS_TARGETS = {"PQ": (7.0, 1.5), "PC": (4.0, 1.0), "CE": (6.0, 2.0), "CU": (5.5, 1.2)}  # (mean, std): random too


def random_aesthetics(seed: int = 0):
    """The package's AesMultiOutput with random weights (full size: the package fixes its encoder)."""
    from audiobox_aesthetics.model.aes import AesMultiOutput

    torch.manual_seed(seed)
    targets = {axis: {"mean": mean, "std": std} for axis, (mean, std) in AXIS_TARGETS.items()}
    return AesMultiOutput(proj_num_layer=2, target_transform=targets).eval()


def write_random_aesthetics(folder: Path, seed: int = 0) -> Path:
    """random_aesthetics saved as the hub holds it (the package's save_pretrained: config.json, model.safetensors)."""
    random_aesthetics(seed).save_pretrained(folder)
    return Path(folder)


def sketch_master(folder: Path, duration_s: float, seed: int = 3) -> tuple[Path, np.ndarray, int]:
    """A sketch song's stems summed to a stereo master at 44.1 kHz (real music, not noise): (path, audio, rate)."""
    from separation_fixtures import sketch_stems

    vocals, instrumental, rate = sketch_stems(duration_s, seed)
    mix = vocals + instrumental
    mix = (mix * (0.5 / np.abs(mix).max())).astype(np.float32)
    return write_wav(Path(folder) / "master.wav", mix, rate, "FLOAT"), mix, rate
