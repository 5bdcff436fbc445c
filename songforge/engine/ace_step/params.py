"""ACE-Step's params as users write them (`engine: {name: ace-step, params: {...}}`), each knob defined once.

The song itself gives the duration (10 s - 10 min), bpm, key, language and lyrics; these are what ACE-Step adds:
its caption (free text, not YuE's vocabulary), the sampler, the reference audio, a LoRA, the model and where it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ..base import EngineParams

MODEL = "ace-step-1.5"
MemoryMode = Literal["auto", "resident", "offload", "cpu"]
PLACEMENT = {"memory"}  # where the models live, not what they compute: not in the engine's identity


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

    @field_validator("reference_audio", "cover_of", "lora_path")
    @classmethod
    def _exists(cls, path: Path | None) -> Path | None:
        if path is not None and not Path(path).expanduser().exists():
            raise ValueError(f"'{path}' does not exist")
        return path
