"""MuQ, the music encoder under MuQ-MuLan and SongEval: its log-mel front end, convolutional subsampling and
Conformer, built from a MuQ config.json and loaded from its weights, offline; and its hidden states.

Mirrors the `muq` package (tencent-ailab/MuQ, `MuQModel.get_predictions` with `is_features_only`) so that its
checkpoints load as saved, without the package: it cannot run beside transformers 5 (it hands the Conformer an
EasyDict as config, and reads `hidden_states` from the Conformer encoder, which transformers 5 no longer
returns). Front end as trained: 24 kHz mono, torchaudio's MelSpectrogram defaults (n_fft 2048, hann window,
centred with reflect padding, power 2, 128 HTK mels without norm) at hop 240 (100 frames a second), 10·log10
with a 1e-10 floor, the last frame dropped, then (x - mean) / std from the config's `stat`. The Conformer
(transformers' Wav2Vec2ConformerEncoder) runs at 25 frames a second (subsampling by 4).

`hidden_states` returns what transformers 4's encoder did with output_hidden_states: the input of each layer,
then the last layer's output after the encoder's final LayerNorm (13 states for 12 layers). MuQ-MuLan reads
the last; SongEval reads index 6.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import EngineError

SAMPLE_RATE = 24_000
N_FFT = 2048
WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # the first one present is read


@dataclass(frozen=True)
class MuQConfig:
    """The fields of a MuQ config.json that define inference (the rest are training's)."""

    stat: dict[str, float]
    w2v2_config: dict[str, Any]
    label_rate: int = 25
    hop_length: int = 240
    n_mels: int = 128
    conv_dim: int = 512
    encoder_dim: int = 1024
    encoder_depth: int = 12
    features: list[str] = field(default_factory=lambda: ["melspec_2048"])

    @classmethod
    def of(cls, config: dict[str, Any]) -> "MuQConfig":
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in config.items() if key in known})


class Res2dModule(nn.Module):
    """Two 3x3 convolutions with batch norm and a (projected) residual, as MuQ's `Res2dModule`."""

    def __init__(self, idim: int, odim: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(idim, odim, 3, padding=1, stride=stride)
        self.bn1 = nn.BatchNorm2d(odim)
        self.conv2 = nn.Conv2d(odim, odim, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(odim)
        self.relu = nn.ReLU()
        self.diff = idim != odim or stride[0] > 1
        if self.diff:
            self.conv3 = nn.Conv2d(idim, odim, 3, padding=1, stride=stride)
            self.bn3 = nn.BatchNorm2d(odim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu((self.bn3(self.conv3(x)) if self.diff else x) + out)


class Conv2dSubsampling(nn.Module):
    """[B, mels, frames] -> [B, frames / time stride, dim]: two Res2d blocks (mels halved twice) and a projection."""

    def __init__(self, hdim: int, odim: int, strides: tuple[int, int], n_bands: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(Res2dModule(1, hdim, (2, strides[0])), Res2dModule(hdim, hdim, (2, strides[1])))
        self.linear = nn.Linear(hdim * n_bands // 4, odim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv(mel.unsqueeze(1))  # [B, C, F, T]
        batch, channels, bands, frames = x.shape
        return self.linear(x.permute(0, 3, 1, 2).reshape(batch, frames, channels * bands))


class MuQEncoder(nn.Module):
    """MuQ's `MuQModel` less its training parts: conv subsampling, the Conformer, and the normalisation stats."""

    def __init__(self, config: MuQConfig) -> None:
        from transformers import Wav2Vec2ConformerConfig
        from transformers.models.wav2vec2_conformer.modeling_wav2vec2_conformer import Wav2Vec2ConformerEncoder

        super().__init__()
        self.config = config
        strides = {4: (2, 2), 2: (2, 1)}[100 // config.label_rate]
        self.conv = Conv2dSubsampling(config.conv_dim, config.encoder_dim, strides, config.n_mels)
        conformer = Wav2Vec2ConformerConfig(**{**config.w2v2_config, "num_hidden_layers": config.encoder_depth,
                                               "hidden_size": config.encoder_dim})
        conformer._attn_implementation = "eager"  # transformers 4's attention, which MuQ was trained with
        self.conformer = Wav2Vec2ConformerEncoder(conformer)
        self.register_buffer("mel_basis", _mel_basis(config.n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)


class MuQ(nn.Module):
    """The `muq.MuQ` wrapper (its weights are saved under `model.`)."""

    def __init__(self, config: MuQConfig) -> None:
        super().__init__()
        self.model = MuQEncoder(config)


def _mel_basis(n_mels: int) -> torch.Tensor:
    """[n_mels, n_fft/2 + 1]: torchaudio's default mel filters (HTK scale, no norm, 0 Hz to Nyquist)."""
    import librosa

    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels, fmin=0.0, fmax=SAMPLE_RATE / 2,
                                htk=True, norm=None)
    return torch.from_numpy(basis).float()


def log_mel(encoder: MuQEncoder, wavs: torch.Tensor) -> torch.Tensor:
    """[B, samples] at 24 kHz -> [B, mels, frames] normalised log-mel, as MuQ's preprocessing (last frame dropped)."""
    spec = torch.stft(wavs.float(), N_FFT, hop_length=encoder.config.hop_length, window=encoder.window, center=True,
                      pad_mode="reflect", return_complex=True).abs().pow(2)
    db = 10.0 * torch.log10(torch.clamp(encoder.mel_basis @ spec, min=1e-10))
    key = encoder.config.features[0]
    return (db[..., :-1] - encoder.config.stat[f"{key}_mean"]) / encoder.config.stat[f"{key}_std"]


@torch.inference_mode()
def hidden_states(muq: MuQ, wavs: torch.Tensor) -> list[torch.Tensor]:
    """[B, samples] at 24 kHz -> each Conformer layer's input, then the final output after its LayerNorm
    ([B, frames at 25 Hz, dim] each; encoder_depth + 1 of them)."""
    encoder = muq.model
    x = encoder.conv(log_mel(encoder, wavs))
    conformer = encoder.conformer
    positions = conformer.embed_positions(x) if conformer.embed_positions is not None else None
    states = []
    for layer in conformer.layers:
        states.append(x)
        x = layer(x, attention_mask=None, relative_position_embeddings=positions)
    return states + [conformer.layer_norm(x)]


def read_state(folder: Path, what: str) -> dict[str, torch.Tensor]:
    """The folder's weights (model.safetensors, else pytorch_model.bin read with weights_only=True)."""
    from safetensors.torch import load_file

    path = next((folder / name for name in WEIGHTS if (folder / name).is_file()), None)
    if path is None:
        raise EngineError(f"{what}: {folder} holds neither {' nor '.join(WEIGHTS)}. Fix: pull the model again.")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def load_weights(module: nn.Module, state: dict[str, torch.Tensor], prefix: str, what: str) -> None:
    """Copy the module's tensors from `state` (keys under `prefix`); EngineError naming what the checkpoint lacks or
    gives in another shape. Keys of training-only parts (quantizer, loss heads) are left out."""
    own = module.state_dict()
    missing = [key for key in own if prefix + key not in state]
    wrong = [key for key in own if prefix + key in state and state[prefix + key].shape != own[key].shape]
    if missing or wrong:
        raise EngineError(f"{what}: the checkpoint is not this model's (missing {missing[:3]}, other shapes "
                          f"{wrong[:3]}). Fix: pull the model again, or check that the folder holds its weights.")
    module.load_state_dict({key: state[prefix + key] for key in own})


def muq_config(path: Path, what: str) -> MuQConfig:
    """A MuQ config.json, read; EngineError naming the file otherwise."""
    try:
        return MuQConfig.of(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as error:
        raise EngineError(f"{what}: {path} is not a MuQ config ({error}). Fix: pull the model again.") from None


def load_muq(folder: Path, device: str | torch.device = "cpu", what: str = "MuQ") -> MuQ:
    """The MuQ in `folder` (config.json + weights, saved by `muq.MuQ`), in eval mode on `device`."""
    muq = MuQ(muq_config(folder / "config.json", what))
    load_weights(muq, read_state(folder, what), "", what)
    return muq.to(device).eval()
