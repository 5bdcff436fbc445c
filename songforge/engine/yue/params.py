"""YuE's params as users write them (`engine: {name: yue, params: {...}}`), and the slice each step needs.

Each pipeline step (stage 1, stage 2, decode) is cached on its own slice, so changing a stage-2
setting reuses stage 1's codes, and a new decode setting reuses both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from ...errors import ParamsError
from ..base import EngineParams

Compat = Literal["fixed", "official"]
# The official stage-1 checkpoints by the language they were annealed on (SPEC §1; names in weights.MODELS):
# '<family>-cot' sings from lyrics and tags, '<family>-icl' also from an audio prompt. YuE has no other language's.
STAGE1_FAMILIES = {"en": "yue-en", "zh": "yue-zh", "ja": "yue-jp-kr", "ko": "yue-jp-kr"}
_PROMPTS = ("prompt_audio", "prompt_vocals", "prompt_instrumental")


def default_stage1_model(language: str, prompted: bool) -> str:
    """The official stage-1 checkpoint for a song in `language`: ICL with an audio prompt, CoT without.

    ParamsError for a language YuE has no checkpoint for (Italian): naming a model is then up to the user.
    """
    if language not in STAGE1_FAMILIES:
        raise ParamsError("language", f"YuE has no stage-1 checkpoint for '{language}' (it has en, zh and ja/ko ones)",
                          "sing this song on the sketch engine (engine: {name: sketch}), give it a language YuE "
                          "sings (en, zh, ja, ko), or name your own stage-1 model in engine.params.stage1_model")
    return f"{STAGE1_FAMILIES[language]}-{'icl' if prompted else 'cot'}"


class Stage1Params(EngineParams):
    """What changes stage 1's tokens: the model, the sampling knobs, the segments and the audio prompt."""

    model: str
    compat: Compat
    run_n_segments: int | None
    max_new_tokens: int
    min_new_tokens: int
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    guidance_scale_first: float
    guidance_scale_later: float
    prompt_audio: Path | None
    prompt_vocals: Path | None
    prompt_instrumental: Path | None
    prompt_start_s: float
    prompt_end_s: float
    codec_model: str
    dtype: str
    int8: bool  # int8 weights change the logits: part of the key
    batch_size: int | None = Field(None, exclude=True)  # takes decoded at once: same tokens, not in cache keys
    keep_loaded: bool = Field(False, exclude=True)  # where the model lives, not what it computes: not in cache keys


class Stage2Params(EngineParams):
    model: str
    compat: Compat
    batch_size: int | None = Field(None, exclude=True)  # same tokens whatever the batching: not in cache keys
    dtype: str
    keep_loaded: bool = Field(False, exclude=True)


class DecodeParams(EngineParams):
    codec_model: str
    low_band_hz: float
    rescale: bool


class YuEParams(EngineParams):
    """Every YuE knob; defaults are the official infer.py values (SPEC §3.4, §5, §6)."""

    stage1_model: str = Field("yue-en-cot", description="a name from `songforge models list`, or a local folder; "
                              "left out: the song's language picks the official one (en, zh, jp-kr; -icl with an "
                              "audio prompt, -cot without)")
    language: str = Field("en", exclude=True, description="the song's language, set from the song (SongSpec): "
                          "picks the default stage1_model; its effect is in stage1_model, so it stays out of dumps")
    stage2_model: str = Field("yue-s2", description="stage-2 model name or folder")
    codec_model: str = Field("xcodec", description="xcodec_mini_infer download (codec and upsamplers)")
    compat: Compat = Field("fixed", description="'official' reproduces infer.py's quirks token for token")
    run_n_segments: int | None = Field(None, ge=1, description="sections to sing; None = every section")
    max_new_tokens: int = Field(3000, ge=1, le=16000, description="stage-1 tokens per segment at most")
    min_new_tokens: int = Field(100, ge=0)
    temperature: float = Field(1.0, gt=0, le=5)
    top_p: float = Field(0.93, gt=0, le=1)
    top_k: int = Field(50, ge=0, description="0 turns top-k off")
    repetition_penalty: float = Field(1.1, gt=0, le=5)
    guidance_scale_first: float = Field(1.5, ge=1, le=10, description="CFG scale of the first segment")
    guidance_scale_later: float = Field(1.2, ge=1, le=10, description="CFG scale of later segments")
    stage1_batch_size: int | None = Field(None, ge=1, le=256, description="stage-1 takes (songs of an album, "
                                          "seeds of a sweep) decoded at once; None: as many as fit the GPU "
                                          "(all of them on the CPU); 1: one at a time")
    stage2_batch_size: int | None = Field(None, ge=1, le=512, description="6-s chunks decoded at once; None: "
                                          "every chunk of both tracks, or as many as fit the GPU")
    prompt_audio: Path | None = Field(None, description="ICL: one reference track (mix, vocal or instrumental)")
    prompt_vocals: Path | None = Field(None, description="ICL dual-track: the reference's vocal stem")
    prompt_instrumental: Path | None = Field(None, description="ICL dual-track: the reference's instrumental")
    prompt_start_s: float = Field(0.0, ge=0)
    prompt_end_s: float = Field(30.0, gt=0)
    low_band_hz: float = Field(5500.0, gt=0, le=20000, description="below it, the codec's own decode is kept")
    rescale: bool = Field(False, description="scale a clipping decode down instead of clamping it (--rescale)")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    memory: Literal["auto", "resident", "offload", "int8"] = Field(
        "auto", description="resident: both LLMs stay loaded between steps and songs (>= 40 GB GPU); offload: "
                            "one at a time (>= 24 GB); int8: offload with int8 stage-1 weights (>= 16 GB); "
                            "auto picks by GPU size")

    @classmethod
    def for_language(cls, params: dict[str, Any], language: str) -> dict[str, Any]:
        """A song's params told its `language` (SongSpec calls this); ParamsError when YuE has no checkpoint for
        it and the song names no stage-1 model. English, the default, is left out, so that English songs'
        params, dumps and cache keys stay as they were."""
        if params.get("stage1_model") is None:
            default_stage1_model(language, prompted=False)
        rest = {key: value for key, value in params.items() if key != "language"}
        return rest if language == "en" else {**rest, "language": language}

    @model_validator(mode="before")
    @classmethod
    def _stage1_for_language(cls, data: Any) -> Any:
        """A song that names no stage-1 model gets its language's official one (a language with none: ParamsError)."""
        if isinstance(data, dict) and data.get("stage1_model") is None:
            prompted = any(data.get(key) is not None for key in _PROMPTS)
            return {**data, "stage1_model": default_stage1_model(data.get("language", "en"), prompted)}
        return data

    @model_validator(mode="after")
    def _prompt_is_single_or_dual(self) -> "YuEParams":
        dual = (self.prompt_vocals is None, self.prompt_instrumental is None)
        if dual[0] != dual[1]:
            raise ParamsError("engine.params.prompt_vocals", "a dual-track prompt needs both stems",
                              "give prompt_vocals and prompt_instrumental, or one prompt_audio")
        if self.prompt_audio is not None and self.prompt_vocals is not None:
            raise ParamsError("engine.params.prompt_audio", "both a single-track and a dual-track prompt are set",
                              "keep prompt_audio, or prompt_vocals + prompt_instrumental, not both")
        if self.prompt_end_s <= self.prompt_start_s:
            raise ParamsError("engine.params.prompt_end_s", f"{self.prompt_end_s} is not after prompt_start_s",
                              "pick an end time after the start time (about 30 s of a chorus works best)")
        return self

    @property
    def uses_audio_prompt(self) -> bool:
        return self.prompt_audio is not None or self.prompt_vocals is not None

    def stage1(self) -> Stage1Params:
        return Stage1Params(
            model=self.stage1_model, compat=self.compat, run_n_segments=self.run_n_segments,
            max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens, temperature=self.temperature,
            top_p=self.top_p, top_k=self.top_k, repetition_penalty=self.repetition_penalty,
            guidance_scale_first=self.guidance_scale_first, guidance_scale_later=self.guidance_scale_later,
            prompt_audio=self.prompt_audio, prompt_vocals=self.prompt_vocals,
            prompt_instrumental=self.prompt_instrumental, prompt_start_s=self.prompt_start_s,
            prompt_end_s=self.prompt_end_s, codec_model=self.codec_model if self.uses_audio_prompt else "",
            dtype=self.dtype, int8=self.memory == "int8", batch_size=self.stage1_batch_size,
            keep_loaded=self.memory == "resident")

    def stage2(self) -> Stage2Params:
        return Stage2Params(model=self.stage2_model, compat=self.compat, batch_size=self.stage2_batch_size,
                            dtype=self.dtype, keep_loaded=self.memory == "resident")

    def decode(self) -> DecodeParams:
        return DecodeParams(codec_model=self.codec_model, low_band_hz=self.low_band_hz, rescale=self.rescale)
