"""The planner's text: its chat prompts, the metadata block it writes (parsed), and the block the code phase reads.

Prompts, as ACE-Step's LLMHandler builds them (acestep/llm_inference.py, build_formatted_prompt and
build_formatted_prompt_with_cot), rendered by the LM tokenizer's own chat template (the folder's
chat_template.jinja: Qwen3's):
- metadata phase: system "# Instruction\\n{INSTRUCTION}\\n\\n", user "# Caption\\n{caption}\\n\\n# Lyric\\n{lyrics}\\n",
  and the generation prompt; the unconditional branch keeps the lyrics only ("# Lyric\\n{lyrics}\\n").
- code phase: the same system and user turns, then an assistant turn holding the metadata block
  "<think>\\n{yaml}\\n</think>" (Qwen3's template renders it "<think>\\n...\\n</think>\\n\\n<|im_end|>\\n"), and
  the codes follow; the unconditional branch has an empty block "<think>\\n</think>".
The block is YAML with sorted keys (bpm, caption, duration, keyscale, language, timesignature), as
_format_metadata_as_cot writes it.

Whose values win. A song always has a bpm, a key, a duration and a language (SongSpec gives defaults), and ACE-Step's
params a time signature; the DiT is told those, so the block the codes follow carries them too: the LM's own guesses
of these fields are kept in plan.json and otherwise ignored. The LM contributes its caption (ACE-Step's "CoT
caption"). The metadata phase starts from "<think>\\nbpm: {bpm}\\n", the song's tempo written for it, as ACE-Step's
constrained decoder forces a value the user gave. With `think: false` the metadata phase is skipped and the block
holds the song's bpm, duration, key and time signature only (ACE-Step's path when the user gave all four).
A block that cannot be parsed (no </think> within the budget, or no `field: value` line) is reported by
parse_metadata; the plan step then falls back to the `think: false` block and records why in plan.json.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from ....errors import EngineError

INSTRUCTION = "Generate audio semantic tokens based on the given conditions:"  # constants.DEFAULT_LM_INSTRUCTION
FIELDS = ("bpm", "caption", "duration", "genres", "keyscale", "language", "timesignature")
CODES_PER_SECOND = 5


class MetadataError(EngineError):
    """The LM's metadata block could not be read."""


def chat(tokenizer: Any, user: str, block: str | None = None) -> str:
    """The chat prompt: system and user turns, then the generation prompt, or an assistant turn holding `block`."""
    messages = [{"role": "system", "content": f"# Instruction\n{INSTRUCTION}\n\n"}, {"role": "user", "content": user}]
    if block is None:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    text = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": block}], tokenize=False,
                                         add_generation_prompt=False)
    return text if text.endswith("\n") else text + "\n"


def user_turn(caption: str, lyrics: str) -> str:
    return f"# Caption\n{caption}\n\n# Lyric\n{lyrics}\n"


def metadata_prompts(tokenizer: Any, caption: str, lyrics: str, bpm: int) -> tuple[str, str]:
    """(conditional, unconditional) prompts of the metadata phase, each ending in the block's forced start."""
    start = f"<think>\nbpm: {bpm}\n"
    return (chat(tokenizer, user_turn(caption, lyrics)) + start,
            chat(tokenizer, f"# Lyric\n{lyrics}\n") + start)


def code_prompts(tokenizer: Any, caption: str, lyrics: str, metadata: dict[str, Any]) -> tuple[str, str]:
    """(conditional, unconditional) prompts of the code phase."""
    user = user_turn(caption, lyrics)
    return chat(tokenizer, user, block(metadata)), chat(tokenizer, user, "<think>\n</think>")


def block(metadata: dict[str, Any]) -> str:
    """The metadata block the code phase reads: sorted YAML between <think> tags."""
    body = yaml.dump({k: v for k, v in metadata.items() if v is not None}, allow_unicode=True, sort_keys=True)
    return f"<think>\n{body.strip()}\n</think>"


def parse_metadata(text: str) -> dict[str, Any]:
    """The fields of a metadata block ("<think>\\nbpm: 96\\ncaption: ...\\n</think>"; the opening tag may be
    missing, a value may run over several lines). MetadataError when it is not closed or holds no field."""
    if "</think>" not in text:
        raise MetadataError(f"the planner's metadata block never closed with </think>: {text[-200:]!r}")
    inside = text.split("</think>")[0].split("<think>")[-1]
    fields: dict[str, list[str]] = {}
    current = None
    for line in inside.strip().splitlines():
        match = re.match(r"^(\w+):\s*(.*)$", line.strip())
        if match and match.group(1) in FIELDS:
            current = match.group(1)
            fields[current] = [match.group(2).strip()]
        elif current is not None and line.strip():
            fields[current].append(line.strip())
    if not fields:
        raise MetadataError(f"the planner's metadata block holds no 'field: value' line: {inside[:200]!r}")
    return {key: " ".join(part for part in parts if part).strip("'\" ") for key, parts in fields.items()}


def song_metadata(bpm: float, duration_s: float, key: str, time_signature: str) -> dict[str, Any]:
    """The fields the song itself fixes (see the module's note on whose values win)."""
    return {"bpm": int(round(bpm)), "duration": int(math.ceil(duration_s)), "keyscale": key,
            "timesignature": int(time_signature)}


def planned_metadata(song: dict[str, Any], language: str, written: dict[str, Any] | None) -> dict[str, Any]:
    """The block the code phase reads: the song's fields, with the LM's caption and the song's language when the
    metadata phase ran (written: its parsed fields), the song's fields alone when it did not."""
    if written is None:
        return dict(song)
    caption = written.get("caption")
    return {**song, **({"caption": caption} if caption else {}), "language": language}


def code_count(duration_s: float) -> int:
    """Codes for a song: 5 a second, rounded up so that the DiT's latents cover the whole song (ACE-Step takes
    int(duration x 5); equal for whole-second durations)."""
    return int(math.ceil(duration_s * CODES_PER_SECOND - 1e-9))


def code_string(codes: list[int]) -> str:
    """The codes as AceStepPipeline's `audio_codes` takes them."""
    return "".join(f"<|audio_code_{code}|>" for code in codes)
