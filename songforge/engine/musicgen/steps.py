"""MusicGen as steps of a song's plan (the sketch guide melody, then the render), and the engine that owns them.

An instrumental engine: the take's instrumental is MusicGen's render, its vocals are silence (a song with no
lyrics, or a bed for a vocal made elsewhere). With `melody: sketch` a MusicGen-Melody model follows the
sketch engine's guide vocal for the song's lyrics, written first (musicgen/guide.wav, a player of its own,
cached on its own); with `melody: <file>` it follows any audio.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...artifacts import StageOutput, output
from ...audio.io import read_audio, resample, to_mono, to_stereo, write_wav
from ...params import Frozen, MixSpec, SongSpec
from ...step import Inputs, Progress, Step
from ..base import EngineParams, ModelNeed, Stems
from ..take import TAKE_PLAYERS, TAKE_ROLES, write_take
from .params import MusicGenParams
from .weights import LICENCE, check_melody, folder_identity, model_need

VERSION = "musicgen-v1"  # bump whenever the same inputs would give different audio
GUIDE = "melody_guide"


def text_prompt(song: SongSpec) -> str:
    """The song's style as MusicGen reads it: its genre, mood and instrument tags, bpm and key (voice tags are for
    singers: this engine makes none)."""
    return ", ".join([*song.genre, *song.mood, *song.instrument, f"{song.bpm:g} bpm", song.key])


class GuideCall(Frozen):
    """What the guide melody depends on: the song (without its mix) and the sketch engine's identity."""

    song: SongSpec
    sketch_identity: str


class RenderCall(Frozen):
    """What a render depends on: the prompt, length, seed, the engine's params and the model folder's identity."""

    prompt: str
    duration_s: float
    seed: int
    params: MusicGenParams
    model_identity: str


def guide_call(song: SongSpec, album: Any = None) -> GuideCall | None:
    if song.engine.params.melody != "sketch":
        return None
    from ..sketch.engine import SketchEngine

    return GuideCall(song=song.model_copy(update={"mix": MixSpec()}),
                     sketch_identity=SketchEngine().identity(guide_params()))


def render_call(song: SongSpec, album: Any = None) -> RenderCall:
    """The render's params; ParamsError (the plan is made when the album loads) for a melody a model cannot follow."""
    params = song.engine.params
    check_melody(params.model, params.melody is not None)
    return RenderCall(prompt=text_prompt(song), duration_s=song.duration_s, seed=song.seed, params=params,
                      model_identity=folder_identity(params.model))


def guide_params() -> EngineParams:
    """The sketch engine's defaults with the synth voice: MusicGen-Melody follows the chroma of the guide, where a
    sung voice's formants outweigh its pitch (4 of 9 long notes read off); the wordless voice reads them all."""
    from ..sketch.params import SketchParams

    return SketchParams(sing_words=False)


def guide_melody(song: SongSpec) -> tuple[np.ndarray, int]:
    """The sketch engine's guide vocal for the song (`guide_params`, the song's seed): mono float32, rate."""
    from ..sketch.engine import SketchEngine

    stems = SketchEngine().generate(song, guide_params(), song.seed)
    return to_mono(stems.vocals), stems.sample_rate


def run_guide(call: GuideCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """musicgen/guide.wav: the melody the render follows."""
    melody, rate = guide_melody(call.song)
    path = write_wav(folder / "musicgen" / "guide.wav", melody[:, None], rate, "FLOAT")
    return output("musicgen-guide", {"sketch": call.sketch_identity, "duration_s": len(melody) / rate},
                  **{GUIDE: path})


def render_stems(call: RenderCall, melody: tuple[np.ndarray, int] | None, progress: Progress | None = None) -> Stems:
    """The take: MusicGen's render as the instrumental (stereo), silent vocals, and the facts take.json keeps."""
    from .generate import Sampling, render
    from .weights import load

    params = call.params
    loaded = load(params.model)
    wanted = None
    if melody is not None:
        rate = loaded.processor.feature_extractor.sampling_rate
        wanted = resample(to_mono(melody[0])[:, None], melody[1], rate)[:, 0]
        wanted = np.pad(wanted, (0, max(0, int(np.ceil(call.duration_s * rate)) - len(wanted))))
    audio = render(loaded, call.prompt, call.duration_s, Sampling(params.guidance_scale, params.temperature,
                   params.top_k), call.seed, params.window_s, params.overlap_s, wanted, progress)
    instrumental = to_stereo(audio)
    facts = {"identity": MusicGenEngine().identity(params, call.model_identity), "model": params.model,
             "model_identity": call.model_identity, "prompt": call.prompt,
             "melody": None if params.melody is None else str(params.melody),
             "licence": str(LICENCE), "licence_commercial": LICENCE.commercial, "licence_url": LICENCE.url,
             "vocals": "silent: musicgen makes instrumentals"}
    return Stems(np.zeros_like(instrumental), instrumental, loaded.sample_rate, metadata=facts)


def run_render(call: RenderCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """stems/vocals.wav (silence), stems/instrumental.wav (the render) and take.json."""
    melody = None
    if GUIDE in inputs:
        melody = _mono(read_audio(inputs[GUIDE].path(GUIDE)))
    elif call.params.melody_file is not None:
        melody = _mono(read_audio(call.params.melody_file))
    stems = render_stems(call, melody, progress)
    return write_take(stems, folder, stems.metadata["identity"], call.seed)


def _mono(read: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    return to_mono(read[0]), read[1]


GUIDE_STEP = Step(name="musicgen-guide", owner="musicgen", version="1", phase="prepare", params=guide_call,
                  run=run_guide, makes=(GUIDE,), players=((GUIDE, "guide melody (sketch)"),))
RENDER_STEP = Step(name="musicgen-render", owner="musicgen", version="1", phase="generate", params=render_call,
                   run=run_render, may_read=(GUIDE,), makes=TAKE_ROLES, loads_models=True, licence=LICENCE,
                   players=TAKE_PLAYERS, artifacts=("take",))


class MusicGenEngine:
    """MusicGen and MusicGen-Melody through transformers; weights from `songforge models pull` or a folder."""

    name: ClassVar[str] = "musicgen"
    Params: ClassVar[type[EngineParams]] = MusicGenParams
    steps: ClassVar[tuple[Step, ...]] = (GUIDE_STEP, RENDER_STEP)
    tag_vocabulary: ClassVar[str | None] = None  # the tags are the text prompt: free text

    def identity(self, params: EngineParams, model_identity: str | None = None) -> str:
        """Code version, params hash and the model folder's identity (hub commit + file hashes)."""
        assert isinstance(params, MusicGenParams), type(params)
        digest = hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:12]
        return ":".join([VERSION, digest, model_identity or folder_identity(params.model)])

    def model_revision(self, params: EngineParams) -> str:
        assert isinstance(params, MusicGenParams), type(params)
        return f"musicgen={folder_identity(params.model)}"

    def models_needed(self, params: EngineParams) -> list[ModelNeed]:
        assert isinstance(params, MusicGenParams), type(params)
        return [model_need(params.model)]

    def generate(self, song: SongSpec, params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        """The steps in one call (library and CLI use; the song flow runs them as cached steps)."""
        assert isinstance(params, MusicGenParams), type(params)
        song = song.model_copy(update={"seed": seed})
        melody = guide_melody(song) if params.melody == "sketch" else (
            _mono(read_audio(params.melody_file)) if params.melody_file is not None else None)
        call = render_call(song.model_copy(update={"engine": song.engine.model_copy(update={"params": params})}))
        return render_stems(call, melody, progress)
