"""A tiny BS-Roformer with random weights, in the layout UVR's Roformer checkpoints have: the whole separate path
(audio-separator's loader, its demix, our chunking, the step, the command) runs on a CPU in seconds, with no
weights to download. Its stems are noise-shaped guesses: for tests and the benchmark's dry run, never music.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..paths import atomic_path, write_text
from .models import write_own_list

CHECKPOINT = "tiny_bs_roformer.ckpt"
CONFIG = "tiny_bs_roformer.yaml"
N_FFT, HOP, DIM_T = 512, 128, 64  # a window of 128 * 63 samples (0.18 s at 44.1 kHz), stepped by half of it
BANDS = (16,) * 15 + (17,)  # the 257 frequency bins of a 512-point STFT, in bands


def config() -> dict:
    """The model's YAML, shaped like UVR's Roformer configs (audio, model, training, inference)."""
    return {
        "audio": {"chunk_size": HOP * (DIM_T - 1), "dim_f": N_FFT // 2, "dim_t": DIM_T, "hop_length": HOP,
                  "n_fft": N_FFT, "num_channels": 2, "sample_rate": 44100, "min_mean_abs": 0.0},
        "model": {"dim": 16, "depth": 1, "stereo": True, "num_stems": 1, "time_transformer_depth": 1,
                  "freq_transformer_depth": 1, "freqs_per_bands": list(BANDS), "dim_head": 8, "heads": 2,
                  "attn_dropout": 0.0, "ff_dropout": 0.0, "flash_attn": False, "dim_freqs_in": N_FFT // 2 + 1,
                  "stft_n_fft": N_FFT, "stft_hop_length": HOP, "stft_win_length": N_FFT, "stft_normalized": False,
                  "mask_estimator_depth": 2},
        "training": {"instruments": ["Vocals", "Instrumental"], "target_instrument": "Vocals"},
        "inference": {"batch_size": 1, "dim_t": DIM_T, "num_overlap": 2},
    }


def write_tiny_roformer(folder: Path, seed: int = 0) -> Path:
    """The checkpoint, its YAML and the download_checks.json listing them (a model of one's own) in folder."""
    import torch
    from audio_separator.separator.uvr_lib_v5.roformer.bs_roformer import BSRoformer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = config()["model"]
    torch.manual_seed(seed)
    network = BSRoformer(dim=model["dim"], depth=model["depth"], stereo=True, num_stems=1, time_transformer_depth=1,
                         freq_transformer_depth=1, freqs_per_bands=BANDS, dim_head=model["dim_head"],
                         heads=model["heads"], flash_attn=False, stft_n_fft=N_FFT, stft_hop_length=HOP,
                         stft_win_length=N_FFT, mask_estimator_depth=model["mask_estimator_depth"])
    with atomic_path(folder / CHECKPOINT) as temporary:
        torch.save(network.state_dict(), temporary)
    write_text(folder / CONFIG, yaml.safe_dump(config()))
    write_own_list(folder, CHECKPOINT, CONFIG)
    return folder
