"""The device a model step loads onto, and giving its memory back after: every model step ends with it, so the
next one has the room."""

from __future__ import annotations

import gc
import weakref
from typing import Any, Sequence


def default_device() -> str:
    """'cuda' where a GPU is visible (the step holds one of the host's GPU slots), else 'cpu'."""
    import torch  # here, so that importing the library does not import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def free_memory_of(models: "Sequence[weakref.ref[Any]]") -> None:
    """Hand back the memory of models whose last references are gone: the garbage collector runs only when something
    still holds one of them (a reference cycle, e.g. an offload hook), since a full collection costs 0.2-0.5 s in a worker
    that holds torch, transformers and Prefect (benchmarks/engine_speed.py measured it as most of ACE-Step's
    overhead over diffusers); CUDA's cached blocks are handed back either way."""
    import torch

    if any(model() is not None for model in models):
        gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def free_memory() -> None:
    """Collect dropped tensors and hand CUDA's cached blocks back (nothing to do on a CPU-only host)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
