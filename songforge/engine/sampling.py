"""Decoding helpers every engine's own LM loop shares (YuE's stages, ACE-Step's planner): the top-k and top-p
filters (each caller picks their order and where the temperature goes), the per-row seeded draw, the streamed
output projection for CPU decoding, and compiling a decode step into CUDA graphs with an eager fallback.
Pure functions over tensors; knows nothing of any model's tokens."""

from __future__ import annotations

import functools
import warnings
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def top_k_filter(scores: Tensor, k: int) -> Tensor:
    """Scores (rows, V) with all but each row's k best set to -inf (ties at the k-th score kept); 0: unchanged."""
    if not k:
        return scores
    kth = torch.topk(scores, min(k, scores.shape[-1]))[0][..., -1, None]
    return scores.masked_fill(scores < kth, -float("inf"))


def top_p_filter(scores: Tensor, p: float) -> Tensor:
    """Scores (rows, V) keeping, per row, the smallest set of ids whose probability passes p (at least one id;
    transformers' TopPLogitsWarper: the low tail holding at most 1 - p dropped); p >= 1: unchanged."""
    if p >= 1.0:
        return scores
    ascending, order = torch.sort(scores, descending=False)
    remove = ascending.softmax(dim=-1).cumsum(dim=-1) <= 1 - p
    remove[..., -1:] = False
    return scores.masked_fill(remove.scatter(1, order, remove), -float("inf"))


def sample(scores: Tensor, do_sample: bool, generators: Sequence[torch.Generator | None]) -> Tensor:
    """One id per row (n,) from scores (n, V): argmax, or a draw without a host sync, row r from generators[r].

    argmax(p / E) with E ~ Exp(1) over the full vocabulary is exactly what `torch.multinomial(p, 1)` computes
    (same result, same generator state), so a seeded run reproduces transformers' sampled tokens.
    """
    if not do_sample:
        return scores.argmax(dim=-1)
    probs = scores.softmax(dim=-1)
    exp = torch.empty_like(probs)
    for row, generator in zip(exp, generators, strict=True):
        row.exponential_(1, generator=generator)
    return (probs / exp).argmax(dim=-1)


STREAMED_TOKENS, STREAMED_NUMEL = 8, 1 << 22  # above 16 MB of fp32 a weight no longer sits in cache


def project(x: Tensor, weight: Tensor) -> Tensor:
    """x (..., in) @ weight (out, in)^T, streaming a large weight at the memory's speed when decoding on CPU.

    For a few tokens, CPU BLAS computes x @ W^T at a quarter of the bandwidth that W @ x^T reaches, and its
    one-column GEMV path at half (measured on this project's x86 box, 84k x 512 head, 1..8 tokens). The
    products are the same dot products; prefill batches and GPUs keep F.linear.
    """
    tokens = x.numel() // x.shape[-1]
    if x.device.type != "cpu" or tokens > STREAMED_TOKENS or weight.numel() < STREAMED_NUMEL:
        return F.linear(x, weight)
    flat = x.reshape(tokens, x.shape[-1])
    columns = flat if tokens > 1 else flat.expand(2, -1).contiguous()  # a 2-column GEMM beats the GEMV
    out = torch.stack((weight @ columns.T).unbind(1)[:tokens])  # 4x faster than .T.contiguous() here
    return out.reshape(*x.shape[:-1], weight.shape[0])


@functools.cache
def compiled(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """fn compiled once per process into CUDA graphs (gpt-fast's decode_one_token setting).

    If compiling fails (a torch, driver or compiler this was never run with), fn runs eagerly from then
    on: the same ids, only slower, and a warning says so.
    """
    graph, failed = torch.compile(fn, mode="reduce-overhead", fullgraph=True), []

    @functools.wraps(fn)
    def run(*args):
        if not failed:
            try:
                return graph(*args)
            except Exception as error:  # noqa: BLE001 - any compiler failure leaves the eager path correct
                failed.append(error)
                warnings.warn(f"compiling {fn.__name__} failed, decoding eagerly: {error}", stacklevel=2)
        return fn(*args)

    return run
