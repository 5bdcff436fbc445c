"""A tiny random ACE-Step planner LM for tests: transformers' Qwen3ForCausalLM (2 layers, 32 wide) with a byte-level
BPE tokenizer trained here, carrying the planner's special tokens (<|im_start|>, <|im_end|>, <think>, </think>)
and CODES audio-code tokens <|audio_code_0|>.., and a chat template that renders as Qwen3's does for the turns the
planner writes. Saved with save_pretrained (safetensors) and loaded by the engine's own loader.

Never the real LM: its vocabulary is a few hundred tokens, its codes 64 (the tiny DiT's FSQ codebook: 4 x 4 x 4).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import LogitsProcessor

CODES = 64
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# Qwen3's chat_template.jinja, cut to what the planner's prompts use: system/user turns, an assistant turn whose
# content holds a <think> block (rendered "<think>\n{reasoning}\n</think>\n\n{content}"), the generation prompt.
TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if m.role == 'assistant' -%}"
    "{%- set c = m.content -%}"
    "{%- if '</think>' in c -%}"
    "{%- set r = c.split('</think>')[0].split('<think>')[-1].strip('\\n') -%}"
    "{%- set c = c.split('</think>')[-1].lstrip('\\n') -%}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + r + '\\n</think>\\n\\n' + c + '<|im_end|>\\n' -}}"
    "{%- else -%}{{- '<|im_start|>assistant\\n' + c + '<|im_end|>\\n' -}}{%- endif -%}"
    "{%- else -%}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}")


def tiny_planner_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ["# Instruction\nGenerate audio semantic tokens based on the given conditions:\n# Caption\ndreamy "
              "synth-pop, breathy female vocal\n# Lyric\n[verse]\nLittle light upon the hill\n",
              "bpm: 96\ncaption: a dreamy synth-pop song\nduration: 10\nkeyscale: F# minor\nlanguage: en\n"
              "timesignature: 4\n"] * 4
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.add_tokens([f"<|audio_code_{c}|>" for c in range(CODES)], special_tokens=True)
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def tiny_planner(seed: int = 0):
    """(model, tokenizer) with random weights (seeded)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = tiny_planner_tokenizer()
    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=4096,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return Qwen3ForCausalLM(config).eval(), tokenizer


def write_tiny_planner(folder: Path, seed: int = 0) -> Path:
    model, tokenizer = tiny_planner(seed)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return Path(folder)


class CodesOnly(LogitsProcessor):
    """The code phase's mask as a transformers logits processor: only audio-code tokens for `generate`, the
    reference our decoder is compared with (here and in benchmarks/planner_speed.py)."""

    def __init__(self, mask: torch.Tensor):
        self.mask = mask  # (vocab,) bool: True on the audio-code tokens (Vocab.code_mask)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.masked_fill(~self.mask.to(scores.device), -float("inf"))
