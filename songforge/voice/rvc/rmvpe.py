"""RMVPE, the pitch model RVC ships (`rmvpe.pt`, a plain state dict): its log-mel front end, its network (a
residual U-Net, a BiGRU and 360 pitch bins of 20 cents) and its decoding to Hz, with the catalogue entry that
`songforge models pull rmvpe` fetches. Parameter names are the released file's.

Frames: 100 a second at 16 kHz (hop 160), centred (frame j at sample 160 j), len // 160 + 1 of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...catalogue import HubModel, register_model
from ...errors import EngineError
from ...licences import MIT

SAMPLE_RATE, HOP, WINDOW = 16000, 160, 1024
N_MELS, MEL_FMIN, MEL_FMAX = 128, 30.0, 8000.0
N_BINS = 360
CENTS_BIN0 = 1997.3794084376191  # bin 0 in cents above 10 Hz (C1 + 20 cents of detune), as in CREPE
VOICED_THRESHOLD = 0.03  # RVC's: a frame whose best bin is at most this salient is unvoiced
FILE = "rmvpe.pt"
# The RVC project's model repository at a commit that holds rmvpe.pt (MIT, as part of RVC; RMVPE by yxlllc)
NAME = "rmvpe"
ENTRY = register_model(NAME, HubModel("lj1995/VoiceConversionWebUI", "6b3b855d20267d8652eeb3af1fface82b9576d67",
                                         MIT, (FILE,), "RMVPE pitch model for voice refinement (RVC's release)"))


class ConvBlockRes(nn.Module):
    """Two 3x3 conv + BN + ReLU, with a residual (through a 1x1 conv when the channels change)."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU())
        self.shortcut = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else None

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) + (x if self.shortcut is None else self.shortcut(x))


def _blocks(channels_in: int, channels_out: int, n_blocks: int) -> nn.ModuleList:
    return nn.ModuleList([ConvBlockRes(channels_in, channels_out)]
                         + [ConvBlockRes(channels_out, channels_out) for _ in range(n_blocks - 1)])


class ResEncoderBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, n_blocks: int, pool: bool):
        super().__init__()
        self.conv = _blocks(channels_in, channels_out, n_blocks)
        self.pool = nn.AvgPool2d(2) if pool else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.conv:
            x = block(x)
        return x


class ResDecoderBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, n_blocks: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.ConvTranspose2d(channels_in, channels_out, 3, 2, 1, output_padding=1, bias=False),
                                   nn.BatchNorm2d(channels_out), nn.ReLU())
        self.conv2 = _blocks(channels_out * 2, channels_out, n_blocks)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = torch.cat([self.conv1(x), skip], dim=1)
        for block in self.conv2:
            x = block(x)
        return x


class Stack(nn.Module):
    """A named list of layers (the checkpoint's `encoder`, `intermediate`, `decoder`)."""

    def __init__(self, layers: list[nn.Module], bn: nn.Module | None = None):
        super().__init__()
        if bn is not None:
            self.bn = bn
        self.layers = nn.ModuleList(layers)


class DeepUnet(nn.Module):
    """Five halving encoder stages (16 -> 256 channels), four intermediate blocks at 512, five decoder stages."""

    def __init__(self, n_blocks: int = 4, depth: int = 5, n_inter: int = 4, channels: int = 16):
        super().__init__()
        widths = [1] + [channels * 2 ** i for i in range(depth)]  # 1, 16, 32, 64, 128, 256
        self.encoder = Stack([ResEncoderBlock(widths[i], widths[i + 1], n_blocks, True) for i in range(depth)],
                             nn.BatchNorm2d(1))
        self.intermediate = Stack([ResEncoderBlock(widths[-1] if i == 0 else widths[-1] * 2, widths[-1] * 2,
                                                   n_blocks, False) for i in range(n_inter)])
        self.decoder = Stack([ResDecoderBlock(widths[i + 1] * 2, widths[i + 1], n_blocks)
                              for i in reversed(range(depth))])

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        x = self.encoder.bn(x)
        for layer in self.encoder.layers:
            skip = layer(x)
            skips.append(skip)
            x = layer.pool(skip)
        for layer in self.intermediate.layers:
            x = layer(x)
        for layer, skip in zip(self.decoder.layers, reversed(skips)):
            x = layer(x, skip)
        return x


class BiGRU(nn.Module):
    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.gru(x)[0]


class E2E(nn.Module):
    """Log-mel [B, 128, T] (T a multiple of 32) -> salience [B, T, 360] in (0, 1)."""

    def __init__(self):
        super().__init__()
        self.unet = DeepUnet()
        self.cnn = nn.Conv2d(16, 3, 3, padding=1)
        self.fc = nn.Sequential(BiGRU(3 * N_MELS, 256), nn.Linear(512, N_BINS), nn.Dropout(0.25), nn.Sigmoid())

    def forward(self, mel: Tensor) -> Tensor:
        x = self.cnn(self.unet(mel.transpose(-1, -2).unsqueeze(1)))  # [B, 3, T, 128]
        return self.fc(x.transpose(1, 2).flatten(-2))


class LogMel(nn.Module):
    """RMVPE's front end: |STFT| (1024 Hann, hop 160, centred) through 128 HTK mel filters (30-8000 Hz), log."""

    def __init__(self):
        super().__init__()
        from librosa.filters import mel

        basis = mel(sr=SAMPLE_RATE, n_fft=WINDOW, n_mels=N_MELS, fmin=MEL_FMIN, fmax=MEL_FMAX, htk=True)
        self.register_buffer("basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(WINDOW), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        """audio [B, samples] at 16 kHz -> [B, 128, samples // 160 + 1]."""
        spectrum = torch.stft(audio, WINDOW, HOP, window=self.window, center=True, return_complex=True).abs()
        return torch.log(torch.clamp(self.basis @ spectrum, min=1e-5))


def load_rmvpe(path: Path, device: str | torch.device = "cpu") -> E2E:
    """The released network from `path` (weights_only); EngineError with the fix when missing or not RMVPE."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"RMVPE weights {path} are missing. Fix: run `songforge models pull rmvpe`, or set the "
                          "song's refine_vocals.f0 to crepe.")
    model = E2E()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # an unpicklable file, a different network: one fix for the user
        raise EngineError(f"{path} is not RMVPE's released network ({str(error)[:300]}). Fix: run "
                          "`songforge models pull rmvpe` again.") from None
    return model.to(device).eval()


@torch.inference_mode()
def rmvpe_f0(model: E2E, audio: np.ndarray, threshold: float = VOICED_THRESHOLD) -> np.ndarray:
    """F0 in Hz (0 = unvoiced) of 16 kHz mono `audio` (samples,): (samples // 160 + 1,) frames."""
    device = next(model.parameters()).device
    mel = LogMel().to(device)(torch.as_tensor(audio, dtype=torch.float32, device=device)[None])
    frames = mel.shape[-1]
    salience = model(F.pad(mel, (0, -frames % 32)))[0, :frames]  # five halvings need a multiple of 32
    return salience_to_hz(salience.float().cpu().numpy(), threshold)


def salience_to_hz(salience: np.ndarray, threshold: float = VOICED_THRESHOLD) -> np.ndarray:
    """[T, 360] -> (T,) Hz: the salience-weighted mean, in cents, of the 9 bins centred on each frame's peak (bins
    past either end weigh nothing); 0 where the peak is at most `threshold`."""
    padded = np.pad(salience, ((0, 0), (4, 4)))
    cents = np.pad(CENTS_BIN0 + 20.0 * np.arange(N_BINS), 4)
    near = salience.argmax(axis=1)[:, None] + np.arange(9)  # the peak is at column peak + 4 of `padded`
    weights = np.take_along_axis(padded, near, axis=1)
    mean_cents = (weights * cents[near]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-12)
    return np.where(salience.max(axis=1) > threshold, 10.0 * 2.0 ** (mean_cents / 1200.0), 0.0)
