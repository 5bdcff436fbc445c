"""YuE's params as users write them (`engine: {name: yue, params: {...}}`), and the slice each step needs.

Each pipeline step (stage 1, stage 2, decode) is cached on its own slice, so changing a stage-2
setting reuses stage 1's codes, and a new decode setting reuses both. Each knob is defined once here (type,
range, default, help): the album's validation, the slices, the sampler and the `songforge yue` options read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ...errors import ParamsError
from ...separation.models import DEFAULT_MODEL as DEFAULT_SEPARATOR
from ..base import EngineParams

# The official stage-1 checkpoints by the language they were annealed on (SPEC §1; names in weights.MODELS):
# '<family>-cot' sings from lyrics and tags, '<family>-icl' also from an audio prompt. YuE has no other language's.
STAGE1_FAMILIES = {"en": "yue-en", "zh": "yue-zh", "ja": "yue-jp-kr", "ko": "yue-jp-kr"}
_PROMPTS = ("prompt_audio", "prompt_vocals", "prompt_instrumental", "style_reference")


def default_stage1_model(language: str, prompted: bool) -> str:
    """The official stage-1 checkpoint for a song in `language`: ICL with an audio prompt, CoT without.

    ParamsError for a language YuE has no checkpoint for (Italian): naming a model is then up to the user.
    """
    if language not in STAGE1_FAMILIES:
        raise ParamsError("language", f"YuE has no stage-1 checkpoint for '{language}' (it has en, zh and ja/ko ones)",
                          "sing this song on the sketch engine (engine: {name: sketch}), give it a language YuE "
                          "sings (en, zh, ja, ko), or name your own stage-1 model in engine.params.stage1_model")
    return f"{STAGE1_FAMILIES[language]}-{'icl' if prompted else 'cot'}"


# -- each knob, defined once (type, range, default, help) ------------------------------------------------------
# YuEParams (what users write), the steps' slices below and the `songforge yue` options (app/options.py) all
# read these; the sampler (generate.Sampling) takes the values of SamplingKnobs, already checked.

Compat = Annotated[Literal["fixed", "official"], Field("fixed", description="'official' reproduces infer.py's "
                                                       "quirks token for token")]
Dtype = Annotated[Literal["auto", "bfloat16", "float16", "float32"], Field(
    "auto", description="the LLMs' weights and compute dtype; auto: bfloat16 on a GPU, float32 on the CPU")]
Stage1Model = Annotated[str, Field("yue-en-cot", description="a name from `songforge models list`, or a local "
                                   "folder; left out: the song's language picks the official one (en, zh, jp-kr; "
                                   "-icl with an audio prompt, -cot without)")]
Stage2Model = Annotated[str, Field("yue-s2", description="stage-2 model name (`songforge models list`) or folder")]
CodecModel = Annotated[str, Field("xcodec", description="xcodec_mini_infer name or folder (codec and upsamplers)")]
RunNSegments = Annotated[int | None, Field(None, ge=1, description="sections to sing; left out: every section")]
Stage1BatchSize = Annotated[int | None, Field(None, ge=1, le=256, description=(
    "stage-1 takes (songs of an album, seeds of a sweep) decoded at once; left out: as many as fit the GPU "
    "(all of them on the CPU); 1: one at a time"))]
Stage2BatchSize = Annotated[int | None, Field(None, ge=1, le=512, description="6-s chunks decoded at once; left "
                                              "out: every chunk of both tracks, or as many as fit the GPU")]
PromptAudio = Annotated[Path | None, Field(None, description="ICL: one reference track (mix, vocal or "
                                           "instrumental)")]
PromptVocals = Annotated[Path | None, Field(None, description="ICL dual-track: the reference's vocal stem")]
PromptInstrumental = Annotated[Path | None, Field(None, description="ICL dual-track: the reference's instrumental")]
PromptStart = Annotated[float, Field(0.0, ge=0, description="where the audio prompt starts, in seconds")]
PromptEnd = Annotated[float, Field(30.0, gt=0, description="where the audio prompt ends, in seconds (after the "
                                   "start; about 30 s of a chorus works best)")]
LowBandHz = Annotated[float, Field(5500.0, gt=0, le=20000, description="below it, the codec's own decode is kept")]
Rescale = Annotated[bool, Field(False, description="scale a clipping decode down instead of clamping it")]


class SamplingKnobs(EngineParams):
    """Stage 1's sampling knobs, defaults the official infer.py values (SPEC §3.4): YuEParams and Stage1Params
    take their fields from here, and the sampler is built from them (generate.Sampling.from_knobs)."""

    max_new_tokens: int = Field(3000, ge=1, le=16000, description="stage-1 tokens per segment at most")
    min_new_tokens: int = Field(100, ge=0, description="stage-1 tokens per segment before <EOA> may end it")
    temperature: float = Field(1.0, gt=0, le=5, description="sampling temperature: below 1 sharper, above 1 "
                               "more varied")
    top_p: float = Field(0.93, gt=0, le=1, description="draw from the likeliest ids that hold this much of the "
                         "probability; 1 turns top-p off")
    top_k: int = Field(50, ge=0, description="draw from the k likeliest ids; 0 turns top-k off")
    repetition_penalty: float = Field(1.1, gt=0, le=5, description="scores of ids already seen are divided by "
                                      "it; 1 turns it off")
    guidance_scale_first: float = Field(1.5, ge=1, le=10, description="CFG scale of the first segment; 1 turns "
                                        "guidance off")
    guidance_scale_later: float = Field(1.2, ge=1, le=10, description="CFG scale of later segments; 1 turns "
                                        "guidance off")

    def knobs(self) -> "SamplingKnobs":
        """Just the sampling knobs of these params (of a YuEParams or a Stage1Params, say)."""
        return SamplingKnobs(**{name: getattr(self, name) for name in SamplingKnobs.model_fields})


class Stage1Params(SamplingKnobs):
    """What changes stage 1's tokens: the model, the sampling knobs, the segments and the audio prompt."""

    model: Stage1Model
    compat: Compat
    run_n_segments: RunNSegments
    prompt_audio: PromptAudio
    prompt_vocals: PromptVocals
    prompt_instrumental: PromptInstrumental
    prompt_start_s: PromptStart
    prompt_end_s: PromptEnd
    codec_model: CodecModel  # "" without an audio prompt: stage 1 then loads no codec
    dtype: Dtype
    int8: bool = False  # int8 weights change the logits: part of the key
    batch_size: Stage1BatchSize = Field(exclude=True)  # takes decoded at once: same tokens, not in cache keys
    keep_loaded: bool = Field(False, exclude=True)  # where the model lives, not what it computes: not in cache keys


class Stage2Params(EngineParams):
    """What changes stage 2's codes: the model, the compat mode and the dtype (`songforge yue stage2` options)."""

    model: Stage2Model
    compat: Compat
    batch_size: Stage2BatchSize = Field(exclude=True)  # same tokens whatever the batching: not in cache keys
    dtype: Dtype
    keep_loaded: bool = Field(False, exclude=True)


class DecodeParams(EngineParams):
    """What changes the decoded audio (`songforge yue decode` options)."""

    codec_model: CodecModel
    low_band_hz: LowBandHz
    rescale: Rescale


class YuEParams(SamplingKnobs):
    """Every YuE knob (the sampling ones from SamplingKnobs); defaults are the official infer.py values
    (SPEC §3.4, §5, §6)."""

    stage1_model: Stage1Model
    language: str = Field("en", exclude=True, description="the song's language, set from the song (SongSpec): "
                          "picks the default stage1_model; its effect is in stage1_model, so it stays out of dumps")
    stage2_model: Stage2Model
    codec_model: CodecModel
    compat: Compat
    run_n_segments: RunNSegments
    stage1_batch_size: Stage1BatchSize
    stage2_batch_size: Stage2BatchSize
    prompt_audio: PromptAudio
    prompt_vocals: PromptVocals
    prompt_instrumental: PromptInstrumental
    prompt_start_s: PromptStart
    prompt_end_s: PromptEnd
    style_reference: Path | None = Field(None, description="any recording: separated into vocals and instrumental "
                                         "(style_separator), whose window is the dual-track ICL prompt")
    style_reference_start_s: float | None = Field(None, ge=0, description="where the reference's window starts; "
                                                  "left out: the most energetic 30 s with vocals")
    style_reference_end_s: float | None = Field(None, gt=0, description="where the reference's window ends")
    style_separator: str = Field(DEFAULT_SEPARATOR, description="the separator model that splits the reference "
                                 "(`songforge models list`)")
    low_band_hz: LowBandHz
    rescale: Rescale
    dtype: Dtype
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
        if self.style_reference is not None and (self.prompt_audio is not None or self.prompt_vocals is not None):
            raise ParamsError("engine.params.style_reference", "is set beside an audio prompt",
                              "keep style_reference (it makes the prompt), or the prompt files, not both")
        window = (self.style_reference_start_s, self.style_reference_end_s)
        if (window[0] is None) != (window[1] is None) or (window[0] is not None and window[1] <= window[0]):
            raise ParamsError("engine.params.style_reference_end_s", "the window needs a start and a later end",
                              "give both style_reference_start_s and style_reference_end_s, or neither")
        if self.prompt_end_s <= self.prompt_start_s:
            raise ParamsError("engine.params.prompt_end_s", f"{self.prompt_end_s} is not after prompt_start_s",
                              "pick an end time after the start time (about 30 s of a chorus works best)")
        return self

    @property
    def uses_audio_prompt(self) -> bool:
        return self.prompt_audio is not None or self.prompt_vocals is not None or self.style_reference is not None

    def stage1(self) -> Stage1Params:
        return Stage1Params(
            **self.knobs().model_dump(), model=self.stage1_model, compat=self.compat,
            run_n_segments=self.run_n_segments, prompt_audio=self.prompt_audio, prompt_vocals=self.prompt_vocals,
            prompt_instrumental=self.prompt_instrumental, prompt_start_s=self.prompt_start_s,
            prompt_end_s=self.prompt_end_s, codec_model=self.codec_model if self.uses_audio_prompt else "",
            dtype=self.dtype, int8=self.memory == "int8", batch_size=self.stage1_batch_size,
            keep_loaded=self.memory == "resident")

    def stage2(self) -> Stage2Params:
        return Stage2Params(model=self.stage2_model, compat=self.compat, batch_size=self.stage2_batch_size,
                            dtype=self.dtype, keep_loaded=self.memory == "resident")

    def decode(self) -> DecodeParams:
        return DecodeParams(codec_model=self.codec_model, low_band_hz=self.low_band_hz, rescale=self.rescale)
