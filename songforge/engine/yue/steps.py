"""YuE as three steps of a song's plan (stage 1 -> stage 2 -> decode), and the engine that owns them.

Each step is keyed only on what changes its output (its own params slice and its model's identity),
so a stage-2 change reuses stage 1's codes. Codes are saved in the official .npy layout. Stage 1 of
several songs (or seeds) that share their settings runs as one batch (`Batching`): the batch writes
each take's codes into its song's folder with a record of what made them (stage1/record.json, written
last), so each song's own stage-1 step, and a rerun after a kill, finds them and decodes only what changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import soundfile as sf

from ...artifacts import StageOutput, content_sha256, output
from ...audio.io import read_audio, write_wav
from ...audio.windows import energetic_vocal_window
from ...separation.models import licence_of
from ...separation.models import model_need as separator_need
from ...errors import SongforgeError
from ...paths import write_json
from ...step import Batching, Inputs, Progress, Step
from ..base import EngineParams, ModelNeed, Stems
from ..take import TAKE_PLAYERS, TAKE_ROLES, write_take
from . import engine as yue  # called through the module: a test's spy on yue.stage1_takes sees every call
from .engine import PLACEMENT, VERSION, Take, model_identities, part_of, resolve_memory, take_metadata
from .params import DecodeParams, Stage1Params, Stage2Params, YuEParams
from .tokens import load_codes, save_codes
from .weights import MODELS, model_need

WEIGHTS_LICENCE = MODELS["yue-s2"].licence  # YuE's checkpoints (the catalogue of songforge models pull)
CODEC_LICENCE = MODELS["xcodec"].licence


class Stage1Take(EngineParams):
    """One take of stage 1: a song's genre line and YuE-format lyrics, its seed, the settings and the model.
    styled: its prompt comes from the song's style reference (the yue-style step), read when the step runs."""

    style: str
    lyrics: str
    seed: int
    settings: Stage1Params
    model_identity: str
    styled: bool = False


class StyleCall(EngineParams):
    """A style reference to separate, the window of it to prompt with (None: chosen), and the separator."""

    reference: Path
    start_s: float | None
    end_s: float | None
    separator: str
    separator_identity: str


class Stage2Call(EngineParams):
    settings: Stage2Params
    model_identity: str


class DecodeCall(EngineParams):
    settings: DecodeParams
    codec_identity: str
    take: dict[str, Any]  # take.json's facts: the engine's identity, seed, models and params


def _params(song) -> tuple[YuEParams, dict[str, str]]:
    params = resolve_memory(song.engine.params)
    return params, model_identities(params)


def stage1_take(song, album=None) -> Stage1Take:
    params, models = _params(song)
    return Stage1Take(style=song.style, lyrics=song.sections.text, seed=song.seed, settings=params.stage1(),
                      model_identity=models["stage1"], styled=params.style_reference is not None)


def style_call(song, album=None) -> StyleCall | None:
    params = song.engine.params
    if params.style_reference is None:
        return None
    from ...separation.models import identity

    return StyleCall(reference=params.style_reference, start_s=params.style_reference_start_s,
                     end_s=params.style_reference_end_s, separator=params.style_separator,
                     separator_identity=identity(params.style_separator))


def stage2_call(song, album=None) -> Stage2Call:
    params, models = _params(song)
    return Stage2Call(settings=params.stage2(), model_identity=models["stage2"])


def decode_call(song, album=None) -> DecodeCall:
    params, models = _params(song)
    facts = {**take_metadata(params, song.seed, models), "identity": YuEEngine().identity(params, models)}
    return DecodeCall(settings=params.decode(), codec_identity=models["codec"], take=facts)


# -- stage 1 ------------------------------------------------------------------------------------


def _stage1_folder(folder: Path) -> Path:
    return folder / "yue" / "stage1"


def _key(take: Stage1Take) -> str:
    """What a take's stage-1 codes depend on (not its folder, nor how it was batched): its params, and the content
    of its prompt files (a prompt replaced at the same path is a new take)."""
    prompts = [take.settings.prompt_audio, take.settings.prompt_vocals, take.settings.prompt_instrumental]
    contents = [content_sha256(path) if path is not None and Path(path).is_file() else None for path in prompts]
    return hashlib.sha256(json.dumps([take.model_dump_json(), contents]).encode()).hexdigest()


def finished_stage1(take: Stage1Take, folder: Path) -> StageOutput | None:
    """The take's codes if its folder holds them for these inputs, unchanged since they were recorded."""
    codes, name = _stage1_folder(folder), folder.name
    try:
        record = json.loads((codes / "record.json").read_text())
        if record.get("key") != _key(take):
            return None
        found = output("yue-stage1", {"frames": int(load_codes(codes / f"{name}_vtrack.npy").shape[1]),
                                      "model": take.model_identity},
                       vtrack=codes / f"{name}_vtrack.npy", itrack=codes / f"{name}_itrack.npy")
    except (OSError, ValueError, SongforgeError):
        return None
    return found if found.fingerprint() == record.get("files") else None


def stage1_batch(members: list[tuple[Stage1Take, Path]], progress: Progress | None = None) -> list[StageOutput]:
    """Stage 1 of several takes decoded together (settings alike); a take whose folder holds its codes is skipped."""
    outputs = [finished_stage1(take, folder) for take, folder in members]
    todo = [i for i, found in enumerate(outputs) if found is None]

    def save(n: int, codes: tuple[np.ndarray, np.ndarray]) -> None:
        i, (vocal, instrumental) = todo[n], codes
        take, folder = members[i]
        where, name = _stage1_folder(folder), folder.name
        outputs[i] = output("yue-stage1", {"frames": int(vocal.shape[1]), "model": take.model_identity},
                            vtrack=save_codes(where / f"{name}_vtrack.npy", vocal),
                            itrack=save_codes(where / f"{name}_itrack.npy", instrumental))
        write_json(where / "record.json", {"key": _key(take), "files": outputs[i].fingerprint()})

    if todo:
        first = members[todo[0]][0]
        yue.stage1_takes([Take(members[i][0].style, members[i][0].lyrics, members[i][0].seed) for i in todo],
                     first.settings, progress, save)
    return outputs


def run_stage1(take: Stage1Take, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """stage1/<song>_vtrack.npy and _itrack.npy: codebook-0 codes (1, T), uint32 (a batch of one); a styled take
    prompts with the separated reference (whole: the yue-style step cut it to its window)."""
    if take.styled:
        take = take.model_copy(update={"settings": styled_settings(take.settings, inputs)})
    return stage1_batch([(take, folder)], progress)[0]


def styled_settings(settings: Stage1Params, inputs: Inputs) -> Stage1Params:
    """Stage 1's settings with the separated reference (already cut to its window) as the dual-track prompt."""
    vocals, instrumental = (inputs[role].path(role) for role in ("reference_vocals", "reference_instrumental"))
    return settings.model_copy(update={"prompt_vocals": vocals, "prompt_instrumental": instrumental,
                                       "prompt_start_s": 0.0, "prompt_end_s": sf.info(str(vocals)).duration})


def _batch_key(take: Stage1Take) -> str | None:
    """Takes whose settings and model agree may decode together: only style, lyrics and seed differ.
    stage1_batch_size 1 turns batching off."""
    if take.settings.batch_size == 1 or take.styled:  # a styled take's prompt is known only when its step runs
        return None
    return json.dumps([take.settings.model_dump(mode="json"), take.model_identity], sort_keys=True)


# -- stage 2 and decode -------------------------------------------------------------------------


def run_stage2(call: Stage2Call, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """stage2/<song>_vtrack.npy and _itrack.npy: all 8 codebooks (8, T), uint32."""
    vocal, instrumental = yue.stage2(load_codes(inputs["vtrack"].path("vtrack")),
                                 load_codes(inputs["itrack"].path("itrack")), call.settings, progress)
    where, official = folder / "yue" / "stage2", call.settings.compat == "official"  # official may leave invalid codes
    return output("yue-stage2", {"frames": int(vocal.shape[1]), "model": call.model_identity},
                  vtrack=save_codes(where / f"{folder.name}_vtrack.npy", vocal, allow_invalid=official),
                  itrack=save_codes(where / f"{folder.name}_itrack.npy", instrumental, allow_invalid=official))


def run_decode(call: DecodeCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """The stems, as every engine's take writes them: X-Codec decode, Vocos upsampling, low band fused."""
    stems = yue.decode(load_codes(inputs["vtrack"].path("vtrack")), load_codes(inputs["itrack"].path("itrack")),
                   call.settings)
    stems.metadata.update(call.take)
    return write_take(stems, folder, call.take.get("identity", call.codec_identity), call.take.get("seed", 0))


def run_style(call: StyleCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """yue/reference/vocals.wav and instrumental.wav: the reference separated, cut to the window (given, or its most
    energetic 30 s with vocals), and window.json saying which and why."""
    from ...separation.separator import loaded, pick, separate

    audio, rate = read_audio(call.reference)
    with loaded(call.separator) as model:
        stems = pick(separate(model, audio, rate, progress=progress), ("vocals", "instrumental"), call.separator)
    given = call.start_s is not None
    start, end = (call.start_s, call.end_s) if given else energetic_vocal_window(audio, stems["vocals"], rate)
    cut = slice(int(start * rate), min(len(audio), int(end * rate)))
    where = folder / "yue" / "reference"
    window = {"reference": str(call.reference), "start_s": start, "end_s": end, "separator": call.separator,
              "chosen": "given" if given else "the most energetic 30 s with vocals"}
    return output("yue-style", window,
                  reference_vocals=write_wav(where / "vocals.wav", stems["vocals"][cut], rate, "FLOAT"),
                  reference_instrumental=write_wav(where / "instrumental.wav", stems["instrumental"][cut], rate, "FLOAT"),
                  reference_window=write_json(where / "window.json", window))


STYLE = Step(name="yue-style", owner="yue", version="1", phase="prepare", params=style_call, run=run_style,
             makes=("reference_vocals", "reference_instrumental", "reference_window"), loads_models=True,
             licence=lambda call: licence_of(call.separator),
             models=lambda call: [separator_need(call.separator, "style separator")],
             players=(("reference_vocals", "style reference: vocals"),
                      ("reference_instrumental", "style reference: instrumental")))
STAGE1 = Step(name="yue-stage1", owner="yue", version="3", phase="generate", params=stage1_take, run=run_stage1,
              may_read=("reference_vocals", "reference_instrumental"),
              makes=("vtrack", "itrack"), loads_models=True, licence=WEIGHTS_LICENCE,
              batching=Batching(key=_batch_key, run=stage1_batch, ready=finished_stage1))
STAGE2 = Step(name="yue-stage2", owner="yue", version="2", phase="generate", params=stage2_call, run=run_stage2,
              reads=("vtrack", "itrack"), makes=("vtrack", "itrack"), loads_models=True, licence=WEIGHTS_LICENCE)
DECODE = Step(name="yue-decode", owner="yue", version="2", phase="generate", params=decode_call, run=run_decode,
              reads=("vtrack", "itrack"), makes=(*TAKE_ROLES, "engine_mix"), loads_models=True,
              licence=CODEC_LICENCE, players=TAKE_PLAYERS, artifacts=("take",))


class YuEEngine:
    """YuE v1 on our own inference code; weights from `songforge models pull` or local folders."""

    name: ClassVar[str] = "yue"
    Params: ClassVar[type[EngineParams]] = YuEParams
    steps: ClassVar[tuple[Step, ...]] = (STYLE, STAGE1, STAGE2, DECODE)
    tag_vocabulary: ClassVar[str | None] = "yue"

    def identity(self, params: EngineParams, models: dict[str, str] | None = None) -> str:
        """Code version, params hash, and each model folder's identity (`models`, if already known)."""
        assert isinstance(params, YuEParams), type(params)
        digest = hashlib.sha256(params.model_dump_json(exclude=PLACEMENT).encode()).hexdigest()[:12]
        return ":".join([VERSION, digest, *(models or model_identities(params)).values()])

    def model_revision(self, params: EngineParams) -> str:
        """The identities (hub commit + file hashes) of the three model folders, for lineage."""
        assert isinstance(params, YuEParams), type(params)
        return " ".join(f"{role}={identity}" for role, identity in model_identities(params).items())

    def models_needed(self, params: EngineParams) -> list[ModelNeed]:
        """The stage-1, stage-2 and codec models these params load, each checked on disk (stat only)."""
        assert isinstance(params, YuEParams), type(params)
        return [model_need("stage 1", params.stage1_model), model_need("stage 2", params.stage2_model),
                model_need("codec", params.codec_model)]

    def generate(self, song, params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        """The three steps in one call (library and CLI use; the song flow runs them as cached steps)."""
        assert isinstance(params, YuEParams), type(params)
        params = resolve_memory(params)
        vocal, instrumental = yue.stage1(song.style, song.sections.text, params.stage1(), seed, part_of(progress, 0, 0.6))
        vocal8, instrumental8 = yue.stage2(vocal, instrumental, params.stage2(), part_of(progress, 0.6, 0.9))
        if progress:
            progress(0.9, "decoding")
        stems = yue.decode(vocal8, instrumental8, params.decode())
        stems.metadata.update(take_metadata(params, seed))
        return stems
