"""Giving a GPU's memory back between models: every model step ends with it, so the next one has the room."""

from __future__ import annotations

import gc


def free_memory() -> None:
    """Collect dropped tensors and hand CUDA's cached blocks back (nothing to do on a CPU-only host)."""
    import torch  # here, so that importing the library does not import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
