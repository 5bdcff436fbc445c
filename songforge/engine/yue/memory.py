"""Where YuE's two models live on one GPU: which memory mode fits, how many stage-2 rows fit, moving off.

Modes (SPEC §1, §10): "resident" keeps both models in bf16 on the GPU (>= 40 GB: 12.4 + 3.9 GB of
weights, 2.1 GB of stage-1 cache, 0.7 GB per stage-2 chunk row); "offload" holds one model at a time and
moves it off between the stages (>= 24 GB); "int8" is offload with stage 1's linear weights in int8
(quantize.py: 6.6 GB, >= 16 GB). benchmarks/yue_speed.py prints these sizes and each mode's quality cost.
"""

from __future__ import annotations

from typing import Literal

import torch

from ...device_memory import free_memory
from ...errors import EngineError
from .model import ModelArgs, Transformer

MemoryMode = Literal["resident", "offload", "int8"]
GIB = 1 << 30
MODE_FLOORS: dict[MemoryMode, int] = {"resident": 40 * GIB, "offload": 24 * GIB, "int8": 16 * GIB}


def choose_mode(device_bytes: int) -> MemoryMode:
    """The fastest mode whose floor fits a device of device_bytes total memory."""
    for mode, floor in MODE_FLOORS.items():
        if device_bytes >= floor:
            return mode
    raise EngineError(f"a GPU of {device_bytes / GIB:.1f} GiB is below the 16 GiB that YuE's int8 mode needs. "
                      "Fix: run on a larger GPU, or on the CPU (slow).")


def device_memory(device: torch.device) -> int:
    """Total memory of a CUDA device in bytes (0 for the CPU: no mode applies there)."""
    return torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0


def kv_cache_bytes(args: ModelArgs, rows: int, positions: int, dtype: torch.dtype) -> int:
    """Bytes of the KV cache that `setup_caches(rows, positions)` allocates."""
    per_position = 2 * args.n_layers * args.n_kv_heads * args.head_dim * torch.finfo(dtype).bits // 8
    return rows * positions * per_position


def rows_that_fit(args: ModelArgs, positions: int, dtype: torch.dtype, budget_bytes: int) -> int:
    """How many batch rows of `positions` cache slots fit budget_bytes, leaving a quarter for activations."""
    return max(1, int(budget_bytes * 0.75) // kv_cache_bytes(args, 1, positions, dtype))


def release(model: Transformer) -> None:
    """Drop the model's caches and move its weights to the CPU, giving the GPU memory back (offload modes)."""
    model.drop_caches()
    model.to("cpu")
    free_memory()


