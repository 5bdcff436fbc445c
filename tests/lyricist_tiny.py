"""A tiny random chat model for the lyricist's tests: a 1-layer Llama with the byte-level BPE tokenizer of
tests/ace_step_tiny.py (built in memory) and a chat template of its own, saved with save_pretrained.
Random weights: it writes nonsense, never lyrics; never a real model."""

from __future__ import annotations

from pathlib import Path

import torch
from ace_step_tiny import tiny_tokenizer

CHAT_TEMPLATE = ("{% for m in messages %}<|endoftext|>{{ m['role'] }}\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|endoftext|>assistant\n{% endif %}")


def write_tiny_chat_model(folder: Path, seed: int = 0, template: bool = True) -> Path:
    """template=False: a base model's folder, with no chat template."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE if template else None
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
