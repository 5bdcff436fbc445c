"""The planner LM as loaded and decoded: transformers' Qwen3ForCausalLM and its tokenizer from a local folder
(safetensors, local files only), and `Decoder`, its static KV cache with a one-token decode step (gpt-fast's shape:
prefill once, then one token per call, optionally compiled into CUDA graphs). Knows nothing of songs or sampling.

Rows of one batch (the takes, and their unconditional twins under CFG) share the cache's write position, so shorter
prompts are left-padded; each row has its own RoPE positions and a mask that hides its padding. The mask is built
here (4-D, boolean, over the whole cache), which transformers passes to SDPA as it is: one shape for every decode
step, as CUDA graphs need. Each call scores the last position against the output rows it is given: the code
phase passes only the audio-code rows, so its steps read 64000 of the head's rows, not the whole vocabulary's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from ....errors import EngineError
from ....models import missing_files
from ...sampling import compiled, project

CODE_TOKEN = re.compile(r"^<\|audio_code_(\d+)\|>$")
MAX_CODE = 63999  # ACE-Step's FSQ codebook holds 64000 codes (acestep/constrained_logits_processor.py)
THINK_END = "</think>"
REQUIRED = (("config.json",), ("*.safetensors",), ("tokenizer_config.json",))  # songforge.models.missing_files


@dataclass(frozen=True)
class Vocab:
    """The token ids the planner's phases need: every audio-code token (code_ids[c] is the id of code c), the end
    token, and the token closing the metadata block."""

    code_ids: Tensor  # (codes,) long
    eos_id: int
    think_end_id: int | None
    size: int

    def code_head(self, weight: Tensor) -> Tensor:
        """The output head's audio-code rows (row c scores code c): a view when the code tokens are contiguous."""
        ids = self.code_ids.to(weight.device)
        first = int(ids[0])
        if torch.equal(ids, torch.arange(first, first + len(ids), device=weight.device)):
            return weight[first: first + len(ids)]
        return weight.index_select(0, ids)

    def code_mask(self, device: torch.device | str = "cpu") -> Tensor:
        """(size,) bool: True on the audio-code tokens."""
        mask = torch.zeros(self.size, dtype=torch.bool, device=device)
        mask[self.code_ids.to(device)] = True
        return mask


@dataclass
class Planner:
    model: Any  # Qwen3ForCausalLM
    tokenizer: Any
    vocab: Vocab

    @property
    def device(self) -> torch.device:
        return self.model.lm_head.weight.device


def vocab_of(tokenizer: Any, size: int) -> Vocab:
    """The audio-code, end and </think> ids of a 5 Hz LM's tokenizer; EngineError when it has no code tokens."""
    found = {int(m.group(1)): token_id for token, token_id in tokenizer.get_vocab().items()
             if (m := CODE_TOKEN.match(token)) and int(m.group(1)) <= MAX_CODE and token_id < size}
    if not found or sorted(found) != list(range(len(found))):
        raise EngineError("the planner's tokenizer has no complete run of <|audio_code_N|> tokens: it is not an "
                          "ACE-Step 5 Hz LM. Fix: point engine.params.planner.model at an acestep-5Hz-lm folder.")
    think_end = tokenizer.convert_tokens_to_ids(THINK_END)
    return Vocab(torch.tensor([found[c] for c in range(len(found))]), int(tokenizer.eos_token_id),
                 think_end if isinstance(think_end, int) and think_end != tokenizer.unk_token_id else None, size)


def load_tokenizer(folder: Path) -> Any:
    """The LM's tokenizer from `folder`, nothing downloaded; EngineError naming what the folder lacks."""
    from transformers import AutoTokenizer

    missing = missing_files(folder, REQUIRED)
    if missing:
        raise EngineError(f"the planner LM folder {folder} lacks {', '.join(missing)}. Fix: run `songforge models "
                          "pull ace-step-1.5`, or point engine.params.planner.model at a complete 5 Hz LM folder.")
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def max_positions(folder: Path) -> int:
    """The positions the LM was made for (config.json's max_position_embeddings; Qwen3's default when absent)."""
    return int(json.loads((Path(folder) / "config.json").read_text()).get("max_position_embeddings", 32768))


def load_planner(folder: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 tokenizer: Any = None) -> Planner:
    """The LM and its tokenizer (`tokenizer`, if already loaded) from `folder`, nothing downloaded."""
    from transformers import Qwen3ForCausalLM

    tokenizer = tokenizer or load_tokenizer(folder)
    model = Qwen3ForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True, use_safetensors=True,
                                             attn_implementation="sdpa")
    return Planner(model.to(device).eval(), tokenizer, vocab_of(tokenizer, model.config.vocab_size))


def _forward(model: Any, ids: Tensor, positions: Tensor, mask: Tensor, cache: Any, head: Tensor) -> Tensor:
    """Scores (rows, len(head)) fp32 of each row's last position against the output rows `head` (the whole output
    head, or only its audio-code rows); the cache takes the new keys and values."""
    out = model.model(input_ids=ids, position_ids=positions, attention_mask=mask, past_key_values=cache,
                      use_cache=True)
    return project(out.last_hidden_state[:, -1], head).float()


BUCKET = 1024  # a compiled decoder's cache length is a multiple of this: one set of CUDA graphs per bucket


def decoder(model: Any, rows: int, length: int, compile: bool = False) -> "Decoder":
    """A decoder for `rows` rows of at most `length` positions. Eager: a cache of exactly `length`. Compiled: the
    model keeps one decoder per row count and bucket (`length` rounded up to BUCKET, at most the LM's positions),
    reset by each prefill, so a step's graphs, captured for the cache's shapes, are replayed by the next song of
    that bucket instead of compiled again. Kept on the model: dropping the model drops them."""
    if not compile:
        return Decoder(model, rows, length)
    size = max(length, min(-(-length // BUCKET) * BUCKET, model.config.max_position_embeddings))
    kept = model.__dict__.setdefault("_songforge_decoders", {})
    if (rows, size) not in kept:
        kept[(rows, size)] = Decoder(model, rows, size, compile=True)
    return kept[(rows, size)]


class Decoder:
    """A static KV cache of `rows` x `length` positions for `model`; prefill, then one token per `step`."""

    def __init__(self, model: Any, rows: int, length: int, compile: bool = False):
        from transformers import StaticCache

        # The plan step checks a song's positions before any work (step.check_positions), naming the fields.
        assert length <= model.config.max_position_embeddings, (length, model.config.max_position_embeddings)
        self.model, self.rows, self.length = model, rows, length
        self.device = model.lm_head.weight.device
        self.cache = StaticCache(config=model.config, max_cache_len=length)
        self.slots = torch.arange(length, device=self.device)
        self.pad = torch.zeros(rows, dtype=torch.long, device=self.device)
        self.at = 0  # the cache slot the next token is written to (host-side: no sync needed)
        self.forward = compiled(_forward) if compile and self.device.type == "cuda" else _forward

    def prefill(self, prompts: Sequence[Sequence[int]], head: Tensor) -> Tensor:
        """Write the prompts (one per row, left-padded to the longest) from slot 0; scores (rows, len(head)) of each
        prompt's last token."""
        assert len(prompts) == self.rows, (len(prompts), self.rows)
        longest = max(len(p) for p in prompts)
        assert longest < self.length, (longest, self.length)  # the cache is sized for the prompt and the tokens
        self.cache.reset()
        ids = torch.zeros(self.rows, longest, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, longest - len(prompt):] = torch.tensor(list(prompt), dtype=torch.long)
        self.pad = torch.tensor([longest - len(p) for p in prompts], device=self.device)
        query = self.slots[:longest, None]
        # Causal, padding hidden; a padding query sees itself (a row with no key at all would give NaNs).
        mask = (self.slots <= query) & ((self.slots >= self.pad[:, None, None]) | (self.slots == query))
        positions = (self.slots[:longest] - self.pad[:, None]).clamp(min=0)
        self.at = longest
        return _forward(self.model, ids.to(self.device), positions, mask[:, None], self.cache, head)

    def step(self, tokens: Tensor, head: Tensor) -> Tensor:
        """Feed one token per row (rows,) at the next slot; scores (rows, len(head)) of the token after it."""
        assert self.at < self.length, (self.at, self.length)  # callers decode no more than they sized it for
        mask = ((self.slots <= self.at) & (self.slots >= self.pad[:, None]))[:, None, None]
        positions = (self.at - self.pad)[:, None]
        self.at += 1
        return self.forward(self.model, tokens[:, None], positions, mask, self.cache, head)
