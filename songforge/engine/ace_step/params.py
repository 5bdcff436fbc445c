"""ACE-Step's params as users write them (`engine: {name: ace-step, params: {...}}`), each knob defined once.

The song itself gives the duration (10 s - 10 min), bpm, key, language and lyrics; these are what ACE-Step adds:
its caption (free text, not YuE's vocabulary), the sampler, the reference audio, a LoRA, the model and where it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from ..base import EngineParams

MODEL = "ace-step-1.5"
MemoryMode = Literal["auto", "resident", "offload", "cpu"]
PLACEMENT = {"memory"}  # where the models live, not what they compute: not in the engine's identity
LM = "acestep-5Hz-lm-1.7B"  # the planner LM's subfolder of the main repository (the catalogue entry pulls it)


class PlannerParams(BaseModel):
    """The optional 5 Hz planner LM (the `plan` step): it writes the song's metadata, then 5 audio codes a second
    that the render's DiT follows. Sampling defaults are ACE-Step's own (acestep/inference.py GenerationParams)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(False, description="run the plan step before the render (a Qwen3 LM on the GPU slot)")
    model: str = Field(MODEL, min_length=1, description=f"'{MODEL}' (its {LM} subfolder, pulled with it) or a "
                       "folder holding a 5 Hz LM (config.json, *.safetensors, the tokenizer), e.g. the 0.6B or 4B")
    think: bool = Field(True, description="let the LM write the metadata block (its caption) before the codes; "
                        "false: the codes follow the song's own bpm, key, duration and time signature only")
    temperature: float = Field(0.85, ge=0.0, le=2.0, description="sampling temperature; 0 decodes greedily")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="nucleus sampling; 1 turns it off")
    top_k: int = Field(0, ge=0, le=1000, description="top-k sampling; 0 turns it off")
    cfg_scale: float = Field(2.0, ge=1.0, le=10.0, description="classifier-free guidance on the LM's logits "
                             "(against an empty metadata block); 1 turns it off and halves the cost")


class AceStepParams(EngineParams):
    """What changes an ACE-Step take (and `memory`, which only says where it runs)."""

    tags: str | None = Field(None, min_length=1, max_length=512, description="ACE-Step's caption, free text (e.g. "
                             "'dreamy synth-pop, female vocal, 80s drums'); left out: the song's genre, mood, "
                             "instrument and voice tags joined with commas")
    time_signature: Literal["2", "3", "4", "6"] = Field("4", description="beats per bar ACE-Step is told")
    inference_steps: int = Field(8, ge=1, le=200, description="denoising steps (the turbo DiT is made for 8; "
                                 "base/sft checkpoints 30-60)")
    guidance_scale: float = Field(7.0, ge=1.0, le=15.0, description="APG guidance of base/sft checkpoints; the "
                                  "turbo DiT has it distilled in and ignores it; 1 turns it off")
    shift: float = Field(3.0, gt=0, le=5.0, description="timestep shift of the flow-matching schedule (1, 2 or 3)")
    reference_audio: Path | None = Field(None, description="an audio file whose timbre the take borrows "
                                         "(ACE-Step's timbre encoder: 30 s taken from its front, middle and back)")
    cover_of: Path | None = Field(None, description="an audio file the take covers: its melody and structure "
                                  "(ACE-Step's cover task, through the audio tokenizer) sung in this song's caption "
                                  "and lyrics; its first duration_s seconds are used (silence after a shorter one)")
    cover_strength: float = Field(1.0, ge=0.0, le=1.0, description="how closely a cover follows cover_of, 0-1 (below "
                                  "1 it is blended with text2music of the same song)")
    lora_path: Path | None = Field(None, description="a LoRA in ACE-Step's or diffusers' format: a .safetensors "
                                   "file or a folder holding one")
    lora_scale: float = Field(1.0, ge=0.0, le=2.0, description="how strongly the LoRA applies, 0-2")
    model: str = Field(MODEL, min_length=1, description="a name from `songforge models list` or a folder: "
                       "ACE-Step's main repository as pulled, or any AceStepPipeline folder (model_index.json)")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="weights and compute dtype; auto: bfloat16 on a GPU, float32 on the CPU")
    memory: MemoryMode = Field("auto", description="resident: every model on the GPU; offload: one "
                               "model on the GPU at a time; cpu: no GPU (slow); auto: by the GPU's size")
    # Left out of dumps and cache keys unless enabled (see _dump): a song without the planner keeps its keys.
    planner: PlannerParams = Field(default_factory=PlannerParams, exclude=True,
                                   description="the planner LM, e.g. {enabled: true, cfg_scale: 2.0}")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        """Dumps (and so the engine's identity and the render's key) carry the planner's settings only when it is
        enabled: a disabled planner's knobs change nothing a take computes."""
        dumped = handler(self)
        if self.planner.enabled:
            dumped["planner"] = self.planner.model_dump()
        return dumped

    @field_validator("reference_audio", "cover_of", "lora_path")
    @classmethod
    def _exists(cls, path: Path | None) -> Path | None:
        if path is not None and not Path(path).expanduser().exists():
            raise ValueError(f"'{path}' does not exist")
        return path

    @model_validator(mode="after")
    def _one_source_of_structure(self) -> "AceStepParams":
        if self.cover_of is not None and self.planner.enabled:
            raise ValueError("cover_of and planner.enabled are both set: the covered audio and the planner's codes "
                             "would both set the song's structure; keep one (drop the planner for a cover)")
        return self
