"""The refine_vocals step: the last vocal stem the plan made, sung again by a user's RVC v2 voice, after the engine
(and after `separate` where a song has both); the mix then reads the refined vocal with no edit.

A song asks for it with `refine_vocals: {model: voices/x.pth, index: voices/x.index, index_rate: 0.4,
pitch_shift: 0, protect: 0.33, rms_mix_rate: 0.25, f0: rmvpe|crepe}`. The output is sample-aligned with the
vocal it refines and as long (songforge.voice.rvc.pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from ..artifacts import StageOutput, output
from ..audio.io import read_audio, write_wav
from ..licences import MIT
from ..params import Frozen
from ..problems import carried
from ..registry import register_step
from ..step import Inputs, Progress, Step
from ..voice.rvc import features, files, rmvpe


class RefineVocals(Frozen):
    """`refine_vocals:` on a song or in an album's defaults."""

    model: Path = Field(description="the voice's RVC v2 .pth, in the models folder's voices/ or an absolute path")
    index: Path | None = Field(None, description="the voice's .index (faiss), in voices/ or an absolute path")
    index_rate: float = Field(0.4, ge=0, le=1, description="share of the voice's own features found in its index, "
                              "0 to 1 (0.3-0.5 keeps the performance and changes the texture)")
    pitch_shift: int = Field(0, ge=-24, le=24, description="semitones, -24 to 24 (e.g. 12 for a male voice singing "
                             "a female part an octave up)")
    protect: float = Field(0.33, ge=0, le=0.5, description="share of the voice on breaths and consonants, 0 to 0.5 "
                           "(lower keeps more of the singer there; 0.5 protects nothing)")
    rms_mix_rate: float = Field(0.25, ge=0, le=1, description="as in RVC: 1 keeps the voice's own loudness envelope, "
                                "0 gives it the input's, 0 to 1")
    f0: Literal["rmvpe", "crepe", "crepe-tiny"] | None = Field(
        None, description="pitch tracker: rmvpe (RVC's; the default once pulled), crepe, or crepe-tiny (faster)")

    @field_validator("model")
    @classmethod
    def _voice(cls, path: Path) -> Path:
        return carried(lambda: files.voice_file(path, "model", ".pth"))

    @field_validator("index")
    @classmethod
    def _index(cls, path: Path | None) -> Path | None:
        return None if path is None else carried(lambda: files.voice_file(path, "index", ".index"))


class RefineCall(Frozen):
    """What a refinement's result depends on: the settings (the voice files count by their content) and the
    identities of the ContentVec and pitch models it loads."""

    settings: RefineVocals
    contentvec: str
    pitch_model: str


def refine_call(song: Any, album: Any) -> RefineCall | None:
    """The song's refinement, or None (not asked for)."""
    settings = song.steps.get("refine_vocals")
    if settings is None:
        return None
    f0 = settings.f0 or ("rmvpe" if files.rmvpe_pulled() else "crepe")
    pitch_model = files.rmvpe_identity() if f0 == "rmvpe" else f"{files.CREPE}:{f0}"
    return RefineCall(settings=settings.model_copy(update={"f0": f0}), contentvec=files.contentvec_identity(),
                      pitch_model=pitch_model)


def refine_vocals(call: RefineCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """refined/vocals.wav (float32): the vocal stem through the voice, same rate, channels and length."""
    from ..voice.rvc.loaded import loaded_models
    from ..voice.rvc.pipeline import Refinement, refine_vocal

    s = call.settings
    audio, rate = read_audio(inputs["vocals"].path("vocals"))
    with loaded_models(s.model, s.index, s.f0) as models:
        refined = refine_vocal(audio, rate, models, Refinement(s.pitch_shift, s.index_rate, s.protect,
                                                               s.rms_mix_rate), progress=progress)
    vocals = write_wav(folder / "refined" / "vocals.wav", refined, rate, "FLOAT")
    return output("refine_vocals", {"voice": s.model.name, "f0": s.f0}, vocals=vocals)


def models(call: RefineCall) -> list:
    """ContentVec, and RMVPE when it tracks the pitch: named by the check before any run when not pulled."""
    needs = [files.need(features.NAME, files.contentvec_folder(), ("config.json",))]
    if call.settings.f0 == "rmvpe":
        needs.append(files.need(rmvpe.NAME, files.rmvpe_file().parent, (rmvpe.FILE,)))
    return needs


STEP = register_step(Step(
    name="refine_vocals", version="1", phase="post", params=refine_call, run=refine_vocals, settings=RefineVocals,
    reads=("vocals",), makes=("vocals",), loads_models=True, players=(("vocals", "refined vocals"),),
    licence=MIT, models=models))  # ContentVec (MIT) and RMVPE (MIT, RVC's); the voice model's rights are the user's
