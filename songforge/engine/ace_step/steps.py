"""The ace-step engine: an optional `plan` step (the planner LM: planner/step.py), the `render` step (DiT + VAE
on the GPU slot) that writes the take's mix, from the plan's audio codes when there is one, and the `repaint` step
`songforge edit` plans in its place (edit_step.py).

ACE-Step makes a mix, not stems. The take keeps it as `engine_mix`; its `instrumental` is that mix and its `vocals`
are silent, and take.json says so: a song that wants real stems sets `separate: {}` (songforge/steps/separate.py
separates the engine's mix, and the mix step then reads the separated stems).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from ...artifacts import StageOutput, content_sha256
from ...licences import MIT
from ...params import Frozen, MixSpec, SongSpec
from ...song_edit import Editor
from ...step import Inputs, Progress, Step
from ..base import EngineParams, ModelNeed, Stems
from ..take import TAKE_PLAYERS, TAKE_ROLES, write_take
from . import pipeline as ace  # called through the module: a test may count loads
from .edit_step import REPAINT, SOURCE, edit_call
from .params import PLACEMENT, AceStepParams, MemoryMode
from .planner.step import PLAN, ROLE as PLAN_ROLE, planned_codes
from .planner.step import model_need as planner_need
from .render import caption, text2music
from .weights import model_need, render_identity

VERSION = "ace-step-v1"  # bump whenever the same inputs would give different audio
LICENCE = MIT  # ACE-Step 1.5's code and weights (the main repository's LICENSE)
STEMS_NOTE = ("ACE-Step makes a mix: instrumental.wav is that mix and vocals.wav is silent; set `separate: {}` on "
              "the song for vocal and instrumental stems")


def input_hashes(params: AceStepParams) -> dict[str, str]:
    """The content of the files the params name (a reference or LoRA replaced at the same path is a new take)."""
    found = {}
    for name, path in params.file_fields().items():
        path = Path(path).expanduser()
        files = [path] if path.is_file() else sorted(path.rglob("*.safetensors"))
        found[name] = hashlib.sha256("".join(content_sha256(f) for f in files).encode()).hexdigest()
    return found


class RenderCall(Frozen):
    """What a render depends on: the song (without its mix settings, and with memory: auto), the engine's identity
    and its input files' content; `memory`, where it runs, is carried outside the cache key."""

    song: SongSpec
    identity: str
    inputs: dict[str, str]
    memory: MemoryMode = Field("auto", exclude=True)


def keyed(params: AceStepParams) -> AceStepParams:
    """The params as they count for a take: placement at its default, and cover_strength too where no cover_of
    is set (it changes nothing then)."""
    unused = {"cover_strength": AceStepParams.model_fields["cover_strength"].default} if params.cover_of is None else {}
    return params.model_copy(update={"memory": "auto", **unused})


def render_call(song: SongSpec, album: Any = None) -> RenderCall:
    params: AceStepParams = song.engine.params  # type: ignore[assignment]
    placed = song.engine.model_copy(update={"params": keyed(params)})
    return RenderCall(song=song.model_copy(update={"mix": MixSpec(), "engine": placed}),
                      identity=AceStepEngine().identity(params), inputs=input_hashes(params), memory=params.memory)


def run_render(call: RenderCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """stems/engine_mix.wav (48 kHz stereo float), the take's stems (see the module's note) and take.json."""
    params = call.song.engine.params.model_copy(update={"memory": call.memory})
    stems = AceStepEngine().generate(call.song, params, call.song.seed, progress, planned_codes(inputs))
    return write_take(stems, folder, call.identity, call.song.seed)


RENDER = Step(name="render", owner="ace-step", version="1", phase="generate", params=render_call, run=run_render,
              may_read=(PLAN_ROLE,), makes=(*TAKE_ROLES, "engine_mix"), loads_models=True, licence=LICENCE,
              models=lambda call: [model_need(call.song.engine.params.model)], players=TAKE_PLAYERS,
              artifacts=("take",))


class AceStepEngine:
    """ACE-Step 1.5 (MIT) on diffusers' AceStepPipeline; weights from `songforge models pull ace-step-1.5`."""

    name: ClassVar[str] = "ace-step"
    Params: ClassVar[type[EngineParams]] = AceStepParams
    steps: ClassVar[tuple[Step, ...]] = (PLAN, RENDER, REPAINT)
    editor: ClassVar[Editor] = Editor(REPAINT, lambda song, folder, request: edit_call(render_call(song), folder,
                                                                                          request),
                                      SOURCE)  # songforge edit
    tag_vocabulary: ClassVar[str | None] = None  # ACE-Step's caption is free text

    def identity(self, params: EngineParams) -> str:
        """Code version, params hash and the model folder's identity. The hash leaves out placement, the files'
        paths (a render's key has their content: input_hashes) and cover_strength without a cover (keyed)."""
        assert isinstance(params, AceStepParams), type(params)
        exclude = PLACEMENT | set(params.file_fields())
        digest = hashlib.sha256(keyed(params).model_dump_json(exclude=exclude).encode()).hexdigest()[:12]
        return f"{VERSION}:{digest}:{render_identity(params.model)}"

    def model_revision(self, params: EngineParams) -> str:
        assert isinstance(params, AceStepParams), type(params)
        return f"{params.model}={render_identity(params.model)}"

    def models_needed(self, params: EngineParams) -> list[ModelNeed]:
        assert isinstance(params, AceStepParams), type(params)
        return [model_need(params.model), *([planner_need(params.planner.model)] if params.planner.enabled else [])]

    def generate(self, song: SongSpec, params: EngineParams, seed: int, progress: Progress | None = None,
                 codes: str | None = None) -> Stems:
        """The song's mix by text2music, as a take (vocals silent until `separate` makes them); `codes`: the plan
        step's audio codes, when it ran."""
        assert isinstance(params, AceStepParams), type(params)
        report = progress or (lambda fraction, what: None)
        report(0.0, "loading ACE-Step")
        with ace.loaded(params) as (pipe, memory):
            report(0.2, "rendering")
            mix = text2music(pipe, song, params, seed, codes)
            rate = pipe.sample_rate  # the models are freed as the block ends (pipeline.loaded), no `del pipe` needed
        report(1.0, "done")
        metadata = {"identity": self.identity(params), "seed": seed, "caption": caption(song, params),
                    "lyrics": song.lyrics,  # what `songforge edit` conditions a repaint on (lyrics.txt: sections)
                    "memory": memory, "licence": str(LICENCE), "stems": STEMS_NOTE, "planned": codes is not None,
                    "params": params.model_dump(mode="json", exclude=PLACEMENT)}
        return Stems(np.zeros_like(mix), mix, rate, mix=mix, metadata=metadata)
