"""YuE's 44.1 kHz upsampler (SPEC §6.3): the vocal and instrumental Vocos decoders, summed X-Codec embeddings -> audio.

Module and parameter names mirror xcodec_mini_infer's vocos/ (YuE@14153f7), so the official decoder_*.pth state
dicts load strictly. The input comes from codec.embed; fuse_low_band (lowband.py, re-exported) then puts the
16 kHz codec's low band back under the 44.1 kHz mix (SPEC §6.5).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from ...errors import EngineError
from .lowband import fuse_low_band  # noqa: F401  (part of this module's API)

SAMPLE_RATE = 44100
CONFIG = "decoders/config.yaml"
VOCAL_WEIGHTS = "decoders/decoder_131000.pth"
INSTRUMENTAL_WEIGHTS = "decoders/decoder_151000.pth"
_FETCH = "Fix: run `songforge models pull xcodec`."


@dataclass(frozen=True)
class VocosConfig:
    """Sizes of one decoder; the defaults are decoders/config.yaml (882 samples per 50 Hz frame at 44.1 kHz)."""

    input_channels: int = 1024
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    n_fft: int = 3528
    hop_length: int = 882

    @classmethod
    def from_official(cls, config: dict, source: Path | str = CONFIG) -> VocosConfig:
        """Read the official yaml layout: backbone/head, each a class_path plus init_args."""
        try:
            backbone, head = config["backbone"], config["head"]
            bb, hd = backbone["init_args"], head["init_args"]
            supported = (backbone["class_path"].endswith("VocosBackbone") and head["class_path"].endswith("ISTFTHead")
                         and hd.get("padding", "same") == "same" and not bb.get("adanorm_num_embeddings")
                         and hd["dim"] == bb["dim"])
            if supported:
                return cls(int(bb["input_channels"]), int(bb["dim"]), int(bb["intermediate_dim"]),
                           int(bb["num_layers"]), int(hd["n_fft"]), int(hd["hop_length"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        raise EngineError(f"{source} is not a Vocos decoder config of xcodec_mini_infer (expected a VocosBackbone "
                          f"without adanorm and an ISTFTHead with padding 'same' of the same dim). {_FETCH}")


class ConvNeXtBlock(nn.Module):
    """Depthwise conv k7 -> LayerNorm -> Linear -> GELU -> Linear -> layer-scale gamma, plus the residual."""

    def __init__(self, dim: int, intermediate_dim: int):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        """[B, dim, T] -> [B, dim, T]."""
        h = self.norm(self.dwconv(x).transpose(1, 2))
        h = self.gamma * self.pwconv2(self.act(self.pwconv1(h)))
        return x + h.transpose(1, 2)


class VocosBackbone(nn.Module):
    """Conv1d k7 embedding, LayerNorm, ConvNeXt blocks, final LayerNorm; keeps the frame rate."""

    def __init__(self, config: VocosConfig):
        super().__init__()
        self.embed = nn.Conv1d(config.input_channels, config.dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.convnext = nn.ModuleList(ConvNeXtBlock(config.dim, config.intermediate_dim)
                                      for _ in range(config.num_layers))
        self.final_layer_norm = nn.LayerNorm(config.dim, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        """[B, input_channels, T] -> [B, T, dim]."""
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFT(nn.Module):
    """Inverse STFT with "same" padding: T frames -> T*hop samples, each frame centred on its hop.

    torch.istft cannot do this padding (its NOLA check fails at the trimmed edges), hence overlap-add by fold,
    then division by the summed squared window.
    """

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft))  # persistent: the checkpoints carry it

    def forward(self, spec: Tensor) -> Tensor:
        """Complex [B, n_fft//2+1, T] -> real [B, T*hop]."""
        frames = spec.shape[-1]
        size = (frames - 1) * self.hop_length + self.n_fft
        pad = (self.n_fft - self.hop_length) // 2
        windowed = torch.fft.irfft(spec, self.n_fft, dim=1) * self.window[None, :, None]
        audio = self._overlap_add(windowed, size)[:, pad:size - pad]
        envelope = self._overlap_add(self.window.square()[None, :, None].expand(1, -1, frames), size)[0, pad:size - pad]
        assert (envelope > 1e-11).all(), "every kept sample lies under some window (hop <= n_fft / 2)"
        return audio / envelope

    def _overlap_add(self, frames: Tensor, size: int) -> Tensor:
        """[B, n_fft, T] frames placed hop apart and summed -> [B, size]."""
        return nn.functional.fold(frames, output_size=(1, size), kernel_size=(1, self.n_fft),
                                  stride=(1, self.hop_length))[:, 0, 0]


class ISTFTHead(nn.Module):
    """Linear to log-magnitude and phase of n_fft//2+1 bins, then the inverse STFT."""

    def __init__(self, dim: int, n_fft: int, hop_length: int):
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length)

    def forward(self, x: Tensor) -> Tensor:
        """[B, T, dim] -> [B, T*hop]."""
        log_magnitude, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude).clip(max=1e2)  # as trained: caps a runaway bin at 100
        return self.istft(magnitude * (torch.cos(phase) + 1j * torch.sin(phase)))


class VocosDecoder(nn.Module):
    """One Vocos decoder (vocal or instrumental): summed RVQ embeddings [B, 1024, T] -> audio [B, 882*T]."""

    def __init__(self, config: VocosConfig = VocosConfig()):
        super().__init__()
        self.config = config
        self.backbone = VocosBackbone(config)
        self.head = ISTFTHead(config.dim, config.n_fft, config.hop_length)

    def forward(self, embeddings: Tensor) -> Tensor:
        return self.head(self.backbone(embeddings))


@dataclass(frozen=True)
class Upsampler:
    """The two official decoders: vocal = decoder_131000, instrumental = decoder_151000 (SPEC §6.3)."""

    vocal: VocosDecoder
    instrumental: VocosDecoder


@torch.inference_mode()
def upsample(decoder: VocosDecoder, embeddings: Tensor) -> np.ndarray:
    """Summed X-Codec embeddings (1, 1024, T) -> float32 mono (882*T,) at 44.1 kHz, unclipped."""
    config = decoder.config
    if embeddings.ndim != 3 or embeddings.shape[0] != 1 or embeddings.shape[1] != config.input_channels:
        raise EngineError(f"upsampler input has shape {tuple(embeddings.shape)}, expected (1, {config.input_channels}"
                          ", T). Fix: pass codec.embed(codec, codes) of one track.")
    if embeddings.shape[2] == 0:
        return np.zeros(0, dtype=np.float32)
    weight = decoder.head.out.weight
    audio = decoder(embeddings.to(device=weight.device, dtype=weight.dtype))
    return audio[0].float().cpu().numpy()


def load_upsampler(folder: Path, device: str | torch.device | None = None) -> Upsampler:
    """Both decoders of an xcodec_mini_infer download (folder = its root), fp32, in eval mode on `device`."""
    folder = Path(folder)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    config_path = _require(folder / CONFIG)
    try:
        config = VocosConfig.from_official(yaml.safe_load(config_path.read_text()), config_path)
    except yaml.YAMLError as error:
        raise EngineError(f"{config_path} is not valid YAML ({error}). {_FETCH}") from error
    return Upsampler(vocal=load_decoder(folder / VOCAL_WEIGHTS, config, device),
                     instrumental=load_decoder(folder / INSTRUMENTAL_WEIGHTS, config, device))


def load_decoder(path: Path, config: VocosConfig, device: torch.device) -> VocosDecoder:
    """One decoder from a flat state dict (the official .pth layout), loaded strictly."""
    try:
        state = torch.load(_require(Path(path)), map_location=device, weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as error:  # truncated, not torch
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise EngineError(f"{path} cannot be read as a PyTorch state dict ({reason}). {_FETCH}") from error
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise EngineError(f"{path} does not hold a flat state dict of tensors. {_FETCH}")
    # The window is a fixed Hann buffer; supply it should a copy of the weights have been saved without buffers.
    state.setdefault("head.istft.window", torch.hann_window(config.n_fft, device=device))
    with torch.device("meta"):
        decoder = VocosDecoder(config)
    expected = decoder.state_dict().keys()
    missing, unexpected = sorted(expected - state.keys()), sorted(state.keys() - expected)
    if missing or unexpected:
        raise EngineError(f"{path} does not match the Vocos decoder of {CONFIG}: missing keys {missing[:3]}, "
                          f"unexpected keys {unexpected[:3]}. {_FETCH}")
    wrong = [f"{name} {tuple(state[name].shape)} (config: {tuple(t.shape)})"
             for name, t in decoder.state_dict().items() if state[name].shape != t.shape]
    if wrong:
        raise EngineError(f"{path} does not fit the sizes in {CONFIG}: {', '.join(wrong[:3])}. {_FETCH}")
    decoder.load_state_dict(state, strict=True, assign=True)
    return decoder.float().to(device).eval()


def _require(path: Path) -> Path:
    if not path.is_file():
        raise EngineError(f"X-Codec upsampler file {path} is missing. {_FETCH}")
    return path
