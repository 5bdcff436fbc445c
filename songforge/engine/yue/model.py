"""YuE's LLaMA decoder (both stages) with a static KV cache; knows nothing of tokens, prompts or sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import EngineError
from ..sampling import project


@dataclass(frozen=True)
class ModelArgs:
    """LLaMA hyper-parameters; the defaults are YuE-s1-7B's (SPEC §1.1)."""

    vocab_size: int = 83968
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int = 4
    intermediate_size: int = 11008
    max_seq_len: int = 16384
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @classmethod
    def from_hf_config(cls, config: dict[str, Any]) -> "ModelArgs":
        """From a HF `config.json` dict; anything this model does not implement raises EngineError."""
        # transformers 5 writes rope settings as `rope_parameters`; YuE's own files use `rope_theta`.
        rope = config.get("rope_parameters") or {"rope_theta": config.get("rope_theta", 10000.0)}
        head_dim = config["hidden_size"] // config["num_attention_heads"]
        supported = {"architectures": ["LlamaForCausalLM"], "rope_scaling": None, "tie_word_embeddings": False,
                     "attention_bias": False, "mlp_bias": False, "hidden_act": "silu", "pretraining_tp": 1,
                     "head_dim": head_dim}
        for key, wanted in [*supported.items(), ("rope_type", "default")]:
            found = rope.get(key, wanted) if key == "rope_type" else config.get(key, wanted)
            if found != wanted:
                raise EngineError(f"config.json has {key}={found!r}; YuE's engine supports only {wanted!r}")
        return cls(vocab_size=config["vocab_size"], dim=config["hidden_size"], n_layers=config["num_hidden_layers"],
                   n_heads=config["num_attention_heads"],
                   n_kv_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
                   intermediate_size=config["intermediate_size"], max_seq_len=config["max_position_embeddings"],
                   rope_theta=float(rope["rope_theta"]), norm_eps=config["rms_norm_eps"])


CONFIGS = {
    "s1-7b": ModelArgs(),
    # s2 is inferred from its 3.65 GB file and intermediate 5504 (SPEC §1.2): its config.json wins when present.
    "s2-1b": ModelArgs(dim=2048, n_layers=32, n_heads=16, n_kv_heads=16, intermediate_size=5504),
    # A test model with the real vocabulary: random weights only, never a stand-in for YuE's output.
    "tiny": ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, intermediate_size=172, max_seq_len=4096),
}


class KVCache(nn.Module):
    """Keys and values of every position so far: (max_batch, n_kv_heads, max_seq_len, head_dim) buffers."""

    def __init__(self, max_batch: int, n_kv_heads: int, max_seq_len: int, head_dim: int, dtype, device):
        super().__init__()
        shape = (max_batch, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v_cache", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        if torch.device(device).type == "cuda":  # CUDA graphs then update the cache in place instead of copying it
            torch._dynamo.mark_static_address(self.k_cache)
            torch._dynamo.mark_static_address(self.v_cache)

    def update(self, input_pos: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write k, v (B, H, T, D) at per-row positions input_pos (B, T); return rows [0, B) of the cache."""
        rows = torch.arange(k.shape[0], device=k.device)[:, None]
        self.k_cache[rows, :, input_pos] = k.transpose(1, 2)
        self.v_cache[rows, :, input_pos] = v.transpose(1, 2)
        return self.k_cache[: k.shape[0]], self.v_cache[: k.shape[0]]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        # Normalise in float32 and cast back before the weight, as HF's LlamaRMSNorm does.
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


def rope_tables(max_seq_len: int, head_dim: int, theta: float, device=None) -> tuple[Tensor, Tensor]:
    """cos, sin (max_seq_len, head_dim) float32 for the half-split ("rotate_half") RoPE layout of HF LLaMA."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=device).float() / head_dim)
    freqs = torch.outer(torch.arange(max_seq_len, device=device).float(), inv_freq)
    angles = torch.cat([freqs, freqs], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x (B, H, T, D) rotated by cos, sin (B, 1, T, D)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Linear(nn.Linear):
    """nn.Linear without bias whose forward is `project` (fast CPU decoding of large weights)."""

    def forward(self, x: Tensor) -> Tensor:
        return project(x, self.weight)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        self.wqkv = Linear(args.dim, (args.n_heads + 2 * args.n_kv_heads) * args.head_dim, bias=False)
        self.wo = Linear(args.n_heads * args.head_dim, args.dim, bias=False)
        self.kv_cache: KVCache | None = None

    def forward(self, x: Tensor, input_pos: Tensor, cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
        B, T, _ = x.shape
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        q, k, v = self.wqkv(x).split([q_size, kv_size, kv_size], dim=-1)
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        assert self.kv_cache is not None, "call setup_caches() first"
        k, v = self.kv_cache.update(input_pos, k, v)
        k, v = k[:, :, : mask.shape[-1]], v[:, :, : mask.shape[-1]]  # the slots the mask covers, no more
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=self.n_heads != self.n_kv_heads)
        return self.wo(y.transpose(1, 2).reshape(B, T, q_size))


class FeedForward(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.w1 = Linear(args.dim, args.intermediate_size, bias=False)  # gate
        self.w3 = Linear(args.dim, args.intermediate_size, bias=False)  # up
        self.w2 = Linear(args.intermediate_size, args.dim, bias=False)  # down

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.attention, self.feed_forward = Attention(args), FeedForward(args)
        self.attention_norm, self.ffn_norm = RMSNorm(args.dim, args.norm_eps), RMSNorm(args.dim, args.norm_eps)

    def forward(self, x: Tensor, input_pos: Tensor, cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
        h = x + self.attention(self.attention_norm(x), input_pos, cos, sin, mask)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    """Token ids (B, T) at positions (B, T) -> logits (B, T, vocab) in the weights' dtype.

    Every row has its own positions, so one batch can hold sequences at different offsets (the
    conditional and unconditional branches of classifier-free guidance). Rows [0, B) of the cache are used.
    """

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(Block(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = Linear(args.dim, args.vocab_size, bias=False)
        self.max_batch = self.max_seq_len = 0

    def setup_caches(self, max_batch: int, max_seq_len: int) -> None:
        """Allocate KV caches and RoPE tables on the weights' device and dtype (after the weights are loaded)."""
        if max_seq_len > self.args.max_seq_len:
            raise EngineError(f"a cache of {max_seq_len} positions exceeds the model's {self.args.max_seq_len}")
        weight = self.tok_embeddings.weight  # the head may be int8 (quantize.py): the embedding keeps the dtype
        cache = self.layers[0].attention.kv_cache
        if (max_batch, max_seq_len) == (self.max_batch, self.max_seq_len) and cache is not None and \
                (cache.k_cache.device, cache.k_cache.dtype) == (weight.device, weight.dtype):
            return
        self.max_batch, self.max_seq_len = max_batch, max_seq_len
        for layer in self.layers:
            layer.attention.kv_cache = KVCache(max_batch, self.args.n_kv_heads, max_seq_len, self.args.head_dim,
                                               weight.dtype, weight.device)
        cos, sin = rope_tables(max_seq_len, self.args.head_dim, self.args.rope_theta, weight.device)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def drop_caches(self) -> None:
        """Free the KV caches and RoPE tables (before moving the model off its device)."""
        for layer in self.layers:
            layer.attention.kv_cache = None
        for name in ("rope_cos", "rope_sin"):
            self._buffers.pop(name, None)
        self.max_batch = self.max_seq_len = 0

    def hidden(self, idx: Tensor, input_pos: Tensor, attend: int | None = None) -> Tensor:
        """Final-norm hidden states (B, T, dim), before the output head (prefill needs no logits).

        attend: attend to cache slots [0, attend) only; it must exceed every input_pos. The default, the
        whole cache, keeps one shape for CUDA graphs; eager decoding passes the live length and reads less.
        """
        assert idx.shape == input_pos.shape and idx.shape[0] <= self.max_batch, (idx.shape, self.max_batch)
        positions = torch.arange(attend or self.max_seq_len, device=idx.device)
        mask = (positions <= input_pos[..., None]).unsqueeze(1)  # (B, 1, T, S): causal over each row's cache
        x = self.tok_embeddings(idx)
        cos = self.rope_cos[input_pos].unsqueeze(1).to(x.dtype)
        sin = self.rope_sin[input_pos].unsqueeze(1).to(x.dtype)
        for layer in self.layers:
            x = layer(x, input_pos, cos, sin, mask)
        return self.norm(x)

    def forward(self, idx: Tensor, input_pos: Tensor, last_only: bool = False, attend: int | None = None) -> Tensor:
        """Logits for every position, or for the last one only (skips a (T, vocab) projection)."""
        x = self.hidden(idx, input_pos, attend)
        return self.output(x[:, -1:] if last_only else x)


def build_model(args: ModelArgs | str, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> Transformer:
    """A randomly initialised model (tests, benchmarks); real weights come through weights.load_model."""
    args = CONFIGS[args] if isinstance(args, str) else args
    return Transformer(args).to(device=device, dtype=dtype).eval()
