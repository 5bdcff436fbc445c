"""The device a model step loads onto, and giving its memory back after: every model step ends with it, so the
next one has the room."""

from __future__ import annotations

import gc


def default_device() -> str:
    """'cuda' where a GPU is visible (the step holds one of the host's GPU slots), else 'cpu'."""
    import torch  # here, so that importing the library does not import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def free_memory() -> None:
    """Collect dropped tensors and hand CUDA's cached blocks back (nothing to do on a CPU-only host)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
