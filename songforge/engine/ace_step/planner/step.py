"""The `plan` step: the planner LM writes plan.json (the metadata block and the song's audio codes) before the
render, which passes the codes to the DiT. On the GPU slot; cached on what defines the plan (the song's text and
musical facts, the planner's settings, its folder's identity, the seed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field

from ....artifacts import StageOutput, output
from ....catalogue import model_folder
from ....errors import EngineError
from ....licences import MIT
from ....models import ModelNeed, missing_files
from ....params import Frozen, SongSpec
from ....paths import write_json
from ....step import Batching, Inputs, Progress, Step
from ..params import LM, MODEL, AceStepParams, MemoryMode, PlannerParams
from ..render import caption
from ..weights import folder_identity
from . import prompt

# .model and .generate (torch) are imported where used: registering the engine stays as light as the rest of it.

VERSION = "1"  # bump whenever the same inputs would give other codes
ROLE = "plan"
# "1": compile the decode step into CUDA graphs on a GPU (never on a CPU). Off by default until it has been run on
# one: a compiler failure falls back to eager decoding (the same codes), but its cost has not been measured yet.
COMPILE_ENV = "SONGFORGE_ACE_PLANNER_COMPILE"


def lm_folder(name_or_path: str) -> Path:
    """The catalogue's main repository's LM subfolder, or a folder given as the LM itself."""
    folder = model_folder(name_or_path)
    return folder / LM if name_or_path == MODEL else folder


def lm_identity(name_or_path: str) -> str:
    """The LM's files only: the main repository's LM subfolder (a DiT or VAE change re-plans no song), or the
    folder given as the LM."""
    return folder_identity(name_or_path, include=LM if name_or_path == MODEL else None)


def model_need(name_or_path: str) -> ModelNeed:
    """The LM, checked on disk: in the main repository, against what its pull recorded below the LM subfolder."""
    from .model import REQUIRED

    pulled = name_or_path == MODEL
    missing = missing_files(model_folder(name_or_path), REQUIRED, under=LM if pulled else None)
    return ModelNeed("ACE-Step planner LM", name_or_path, lm_folder(name_or_path), tuple(missing),
                     pull=name_or_path if pulled else None)


class PlanCall(Frozen):
    """What a plan depends on; `memory`, where it runs, is carried outside the cache key."""

    caption: str
    lyrics: str
    duration_s: float
    bpm: float
    key: str
    language: str
    time_signature: str
    planner: PlannerParams
    dtype: str
    identity: str
    seed: int
    memory: MemoryMode = Field("auto", exclude=True)


def plan_call(song: SongSpec, album: Any = None) -> PlanCall | None:
    params: AceStepParams = song.engine.params  # type: ignore[assignment]
    if not params.planner.enabled:
        return None
    identity = f"{VERSION}:{lm_identity(params.planner.model)}"
    return PlanCall(caption=caption(song, params), lyrics=song.lyrics, duration_s=song.duration_s, bpm=song.bpm,
                    key=song.key, language=song.language, time_signature=params.time_signature,
                    planner=params.planner, dtype=params.dtype, identity=identity, seed=song.seed,
                    memory=params.memory)


def tokens_of(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text)["input_ids"]


def token_pair(tokenizer: Any, texts: tuple[str, str]) -> tuple[list[int], list[int]]:
    """The (conditional, unconditional) prompts as token ids."""
    return tokens_of(tokenizer, texts[0]), tokens_of(tokenizer, texts[1])


def make_plans(planner: Any, call: PlanCall, seeds: list[int], compile: bool = False,
               budget: int | None = None) -> list[dict[str, Any]]:
    """One plan per seed for `planner` (model.Planner), each the plan that seed gets alone: every take writes its
    own metadata block from its own generator (at most `budget` tokens, default generate.META_TOKENS), the takes
    decoded as one batch; then the takes whose blocks agree (all of them with `think: false`) decode their codes
    as one batch. Each plan {"metadata", "written", "metadata_error", "codes"}."""
    import torch

    from .generate import META_TOKENS, Sampling, code_phase, metadata_phase

    s = Sampling(call.planner.temperature, call.planner.top_p, call.planner.top_k, call.planner.cfg_scale)
    generators = [torch.Generator(planner.device).manual_seed(seed) for seed in seeds]
    fixed = prompt.song_metadata(call.bpm, call.duration_s, call.key, call.time_signature)
    plans: list[dict[str, Any]] = [{"metadata": dict(fixed), "written": None, "metadata_error": None} for _ in seeds]
    if call.planner.think:
        cond, uncond = token_pair(planner.tokenizer, prompt.metadata_prompts(planner.tokenizer, call.caption,
                                                                            call.lyrics, fixed["bpm"]))
        blocks = metadata_phase(planner, cond, uncond, s, generators, budget or META_TOKENS)
        for plan, block in zip(plans, blocks):
            try:
                plan["written"] = prompt.parse_metadata(planner.tokenizer.decode(block))  # after the forced bpm
            except prompt.MetadataError as problem:
                plan["metadata_error"] = str(problem)  # documented fallback: the song's own fields (prompt.py)
            plan["metadata"] = prompt.planned_metadata(fixed, call.language, plan["written"])
    alike: dict[tuple[str, str], list[int]] = {}  # the code prompts -> the takes reading them
    for take, plan in enumerate(plans):
        alike.setdefault(prompt.code_prompts(planner.tokenizer, call.caption, call.lyrics, plan["metadata"]),
                         []).append(take)
    for texts, takes in alike.items():
        cond, uncond = token_pair(planner.tokenizer, texts)
        ids = code_phase(planner, cond, uncond, prompt.code_count(call.duration_s), s, [generators[t] for t in takes],
                         compile)
        for take, row in zip(takes, ids):
            plans[take]["codes"] = row.tolist()
    return plans


def check_positions(call: PlanCall, tokenizer: Any, limit: int) -> None:
    """EngineError, before the LM loads, when the song needs more positions than the LM has (`limit`): the longer
    of the prompt + its metadata block and the code phase's prompt (+ the block's caption) + 5 codes a second."""
    from .generate import META_TOKENS

    fixed = prompt.song_metadata(call.bpm, call.duration_s, call.key, call.time_signature)
    block = META_TOKENS if call.planner.think else 0  # the LM's caption joins the code phase's prompt
    meta = max(map(len, token_pair(tokenizer, prompt.metadata_prompts(tokenizer, call.caption, call.lyrics,
                                                                      fixed["bpm"])))) + block if block else 0
    words = max(map(len, token_pair(tokenizer, prompt.code_prompts(tokenizer, call.caption, call.lyrics,
                                                                   fixed)))) + block
    codes = prompt.code_count(call.duration_s)
    if max(meta, words + codes) > limit:
        raise EngineError(
            f"the planner needs {max(meta, words + codes)} positions, more than its LM's {limit} "
            f"(max_position_embeddings): a {words}-token prompt (the caption and lyrics"
            f"{', with room for its metadata block' if block else ''}) and {codes} codes for duration_s "
            f"{call.duration_s:g} (5 a second). Fix: shorten duration_s or the lyrics, or turn the planner off "
            "(engine.params.planner.enabled: false).")


def plan_seeds(calls: list[PlanCall], progress: Progress | None = None) -> list[dict[str, Any]]:
    """The plans of calls alike but for their seeds (make_plans' takes), the LM loaded once; a song the LM cannot
    hold is refused before it loads."""
    import os

    from ....device_memory import free_memory
    from ..pipeline import dtype_for, resolve_memory
    from .model import load_planner, load_tokenizer, max_positions

    report, first = progress or (lambda fraction, what: None), calls[0]
    lm = lm_folder(first.planner.model)
    tokenizer = load_tokenizer(lm)
    check_positions(first, tokenizer, max_positions(lm))  # before the LM loads
    report(0.0, "loading the planner LM")
    memory = resolve_memory(first.memory)
    device = "cpu" if memory == "cpu" else "cuda"
    planner = load_planner(lm, device, dtype_for(first.dtype, memory), tokenizer)
    try:
        report(0.1, "planning")
        compile = device == "cuda" and os.environ.get(COMPILE_ENV, "0") == "1"
        plans = make_plans(planner, first, [call.seed for call in calls], compile)
    finally:
        del planner
        free_memory()
    report(1.0, "planned")
    return plans


def _record(call: PlanCall) -> str:
    """What plan.json records of its call (placement left out), so that a batch's plan is found again."""
    return hashlib.sha256(call.model_dump_json().encode()).hexdigest()


def write_plan(call: PlanCall, plan: dict[str, Any], folder: Path) -> StageOutput:
    """ace-step/plan.json: the metadata block, the codes (5 a second), the settings that made them."""
    facts = {"identity": call.identity, "seed": call.seed, "planner": call.planner.model_dump(),
             "codes_per_second": prompt.CODES_PER_SECOND, "licence": str(MIT), "call": _record(call)}
    path = write_json(folder / "ace-step" / "plan.json", {**facts, **plan})
    return output("plan", {"codes": len(plan["codes"]), "metadata_error": plan["metadata_error"]}, **{ROLE: path})


def run_plan(call: PlanCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """One song's plan (see write_plan)."""
    (plan,) = plan_seeds([call], progress)
    return write_plan(call, plan, folder)


def finished_plan(call: PlanCall, folder: Path) -> StageOutput | None:
    """The song's plan.json if a batch (or an earlier run) wrote it for this very call, else None."""
    path = folder / "ace-step" / "plan.json"
    try:
        plan = json.loads(path.read_text())
        if plan.get("call") != _record(call):
            return None
        return output("plan", {"codes": len(plan["codes"]), "metadata_error": plan["metadata_error"]}, **{ROLE: path})
    except (OSError, ValueError, KeyError):
        return None


def batch_key(call: PlanCall) -> str:
    """Calls that differ only in their seed (a song's takes) plan together: one LM load, their takes batched."""
    return json.dumps(call.model_dump(mode="json", exclude={"seed"}), sort_keys=True)


def plan_batch(members: list[tuple[PlanCall, Path]], progress: Progress | None = None) -> None:
    """The plans of a batch's members (alike but for their seeds), each into its own folder; one already there
    is kept."""
    todo = [(call, folder) for call, folder in members if finished_plan(call, folder) is None]
    if todo:
        for (call, folder), plan in zip(todo, plan_seeds([call for call, _ in todo], progress)):
            write_plan(call, plan, folder)


def planned_codes(inputs: Inputs) -> str | None:
    """The plan's codes as the pipeline takes them, when a plan step ran before the render."""
    if ROLE not in inputs:
        return None
    return prompt.code_string(json.loads(inputs[ROLE].path(ROLE).read_text())["codes"])


PLAN = Step(name="plan", owner="ace-step", version=VERSION, phase="prepare", params=plan_call, run=run_plan,
            makes=(ROLE,), loads_models=True, licence=MIT,
            models=lambda call: [model_need(call.planner.model)], artifacts=(ROLE,),
            batching=Batching(key=batch_key, run=plan_batch, ready=finished_plan))
