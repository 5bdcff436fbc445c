"""Stage-1 prompts: lyric splitting, CoT/ICL headers, per-segment prompts and the context window (ids only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from ...errors import ParamsError
from .tokenizer import EOA, SOA, XCODEC, MMTokenizer
from .tokens import FRAMES_PER_S, interleave_tracks, offset_codes

Compat = Literal["fixed", "official"]
MODEL_CONTEXT = 16384  # max_position_embeddings of s1
_SECTION_RE = re.compile(r"\[(\w+)\](.*?)(?=\[|\Z)", re.DOTALL)  # infer.py split_lyrics
INSTRUCTION = "Generate music from the given lyrics segment by segment."


def split_lyrics(lyrics: str, compat: Compat = "fixed") -> list[str]:
    """Sections as the official `split_lyrics` gives them: '[tag]\\nbody\\n\\n' per `[word]` tag.

    The official regex silently drops text before the first tag and sections whose tag is not `\\w+`
    (e.g. `[pre-chorus]`); in "fixed" mode such lost text raises instead.
    """
    matches = list(_SECTION_RE.finditer(lyrics))
    lost = _SECTION_RE.sub("", lyrics).strip()
    if compat == "fixed" and lost:
        raise ParamsError("lyrics", f"text outside '[tag]' sections would be dropped: '{lost[:40]}'",
                          "start the lyrics with a section tag and use tags of letters, digits and '_' only")
    return [f"[{m.group(1)}]\n{m.group(2).strip()}\n\n" for m in matches]


def instruction_text(genres: str, sections: Sequence[str]) -> str:
    """`prompt_texts[0]`: the instruction, the genre tags and *all* sections (even ones not generated)."""
    return f"{INSTRUCTION}\n[Genre] {genres.strip()}\n" + "\n".join(sections)


def count_segments(requested: int, n_sections: int, compat: Compat = "fixed") -> int:
    """Segments generated: official runs min(n, sections - 1) (its last section is never sung), fixed min(n, sections)."""
    return min(requested, n_sections - 1 if compat == "official" else n_sections)


def reference_single(codes: np.ndarray, start_s: float = 0.0, end_s: float = 30.0) -> list[int]:
    """ICL audio prompt from one track's codebook-0 codes (T,) or (1, T): ids[int(start*50) : int(end*50)]."""
    ids = offset_codes(np.asarray(codes).reshape(1, -1))[0]
    return ids[int(start_s * FRAMES_PER_S): int(end_s * FRAMES_PER_S)].tolist()


def reference_dual(vocal: np.ndarray, instrumental: np.ndarray, start_s: float = 0.0, end_s: float = 30.0,
                   compat: Compat = "fixed") -> list[int]:
    """ICL prompt from vocal + instrumental codes: interleaved v0 i0 v1 i1 .., then [int(start*100) : int(end*100)].

    Official needs equal lengths; fixed mode trims both to the shorter one (as YuEGP does).
    """
    vocal, instrumental = np.asarray(vocal).reshape(-1), np.asarray(instrumental).reshape(-1)
    if compat == "fixed":
        n = min(len(vocal), len(instrumental))
        vocal, instrumental = vocal[:n], instrumental[:n]
    stream = interleave_tracks(offset_codes(vocal[None])[0], offset_codes(instrumental[None])[0])
    return stream[int(start_s * 2 * FRAMES_PER_S): int(end_s * 2 * FRAMES_PER_S)].tolist()


@dataclass(frozen=True)
class Stage1Plan:
    """Everything stage 1 feeds the model besides its own output.

    header: tok(instruction text) [+ tok('[start_of_reference]') <SOA> <xcodec> A <EOA> tok('[end_of_reference]')]
    prompts[i]: tok('[start_of_segment]') + tok(section i) + <SOA> <xcodec>, for each segment to generate
    separator: tok('[end_of_segment]'), placed between a finished segment and the next one
    """

    header: tuple[int, ...]
    prompts: tuple[tuple[int, ...], ...]
    separator: tuple[int, ...]
    reference_spans: int  # <SOA>..<EOA> spans in the header, skipped when splitting the output into tracks
    compat: Compat

    def guidance_scale(self, segment: int, first: float, later: float) -> float:
        """CFG scale: `first` for the first generated segment, `later` after (official: 1.5 and 1.2, infer.py#L167)."""
        return first if segment == 0 else later


def segment_prompt(tokenizer: MMTokenizer, section: str) -> list[int]:
    text = section.replace("[start_of_segment]", "").replace("[end_of_segment]", "")
    return tokenizer.tokenize("[start_of_segment]") + tokenizer.tokenize(text) + [SOA, XCODEC]


def build_plan(tokenizer: MMTokenizer, genres: str, lyrics: str, n_segments: int, compat: Compat = "fixed",
               reference: Sequence[int] | None = None) -> Stage1Plan:
    """The stage-1 plan for CoT (reference None) or ICL (reference = ids from `reference_single`/`_dual`)."""
    sections = split_lyrics(lyrics, compat)
    if not sections:
        raise ParamsError("lyrics", "no '[tag]' sections found", "tag each section, e.g. '[verse]' on its own line")
    header = tokenizer.tokenize(instruction_text(genres, sections))
    if reference is not None:
        header += (tokenizer.tokenize("[start_of_reference]") + [SOA, XCODEC] + list(reference) + [EOA]
                   + tokenizer.tokenize("[end_of_reference]"))
    count = count_segments(n_segments, len(sections), compat)
    prompts = tuple(tuple(segment_prompt(tokenizer, s)) for s in sections[:count])
    return Stage1Plan(tuple(header), prompts, tuple(tokenizer.tokenize("[end_of_segment]")),
                      int(reference is not None), compat)


def max_context(max_new_tokens: int, context: int = MODEL_CONTEXT) -> int:
    """Longest model input that leaves room for `max_new_tokens`: 16384 - max_new_tokens - 1 (13383 for 3000)."""
    return context - max_new_tokens - 1


def model_input(plan: Stage1Plan, done: Sequence[Sequence[int]], max_new_tokens: int,
                context: int = MODEL_CONTEXT) -> list[int]:
    """Ids fed to the model for segment len(done); done[j] = prompts[j] + generated tokens of segment j (..<EOA>).

    Both modes build header + done[0] + sep + done[1] + .. + sep + prompts[i]. If that exceeds the window,
    official keeps its last max_context tokens (cutting the header); fixed keeps the header and drops
    the oldest whole segments.
    """
    limit, prompt = max_context(max_new_tokens, context), list(plan.prompts[len(done)])
    if plan.compat == "official":
        return _join(plan, [*done, prompt])[-limit:]
    kept = len(done)
    while kept and len(_join(plan, [*done[len(done) - kept:], prompt])) > limit:
        kept -= 1
    ids = _join(plan, [*done[len(done) - kept:], prompt])
    if len(ids) > limit:
        raise ParamsError("lyrics", f"the prompt for segment {len(done) + 1} needs {len(ids)} tokens but the "
                          f"window holds {limit}", "shorten the lyrics or lower max_new_tokens")
    return ids


def _join(plan: Stage1Plan, blocks: Sequence[Sequence[int]]) -> list[int]:
    ids = list(plan.header)
    for j, block in enumerate(blocks):
        ids += (list(plan.separator) if j else []) + list(block)
    return ids


def full_output(plan: Stage1Plan, done: Sequence[Sequence[int]]) -> list[int]:
    """The official `raw_output` after all segments: header + done[0] + sep + done[1] + ..; split it with
    `tokens.split_stage1(ids, skip_spans=plan.reference_spans)`."""
    return _join(plan, done)
