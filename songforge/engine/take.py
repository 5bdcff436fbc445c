"""An engine's take as a step: what it depends on, how its stems land in the song's folder, and the one-step engine.

`write_take` is the contract every engine's last step keeps: vocals.wav and instrumental.wav
(float32 stereo, equal length), take.json, and the optional engine mix and arrangement.mid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..artifacts import StageOutput, output
from ..audio.io import write_wav
from ..licences import Licence
from ..params import Frozen, MixSpec, SongSpec
from ..paths import write_bytes, write_json
from ..step import Inputs, Progress, Step
from .base import Stems, take_identity

TAKE_ROLES = ("vocals", "instrumental", "take")
TAKE_PLAYERS = (("vocals", "vocals"), ("instrumental", "instrumental"), ("engine_mix", "engine mix"))


class SongTake(Frozen):
    """What an engine's take depends on: the song without its mix (the mix step's own input), and the
    engine's identity (code version and model revision: new weights, new take)."""

    song: SongSpec
    identity: str

    @classmethod
    def of(cls, song: SongSpec, album: Any = None) -> "SongTake":
        return cls(song=song.model_copy(update={"mix": MixSpec()}), identity=take_identity(song))


def write_take(stems: Stems, folder: Path, identity: str, seed: int) -> StageOutput:
    """The stems, take.json (identity, seed, duration and the engine's metadata), the engine mix and MIDI if any."""
    files = {
        "vocals": write_wav(folder / "stems" / "vocals.wav", stems.vocals, stems.sample_rate, "FLOAT"),
        "instrumental": write_wav(folder / "stems" / "instrumental.wav", stems.instrumental, stems.sample_rate, "FLOAT"),
        "take": write_json(folder / "take.json", {"engine": identity, "seed": seed, "duration_s": stems.duration_s,
                                                  **stems.metadata}),
    }
    if stems.mix is not None:
        files["engine_mix"] = write_wav(folder / "stems" / "engine_mix.wav", stems.mix, stems.sample_rate, "FLOAT")
    if stems.midi is not None:
        files["arrangement"] = write_bytes(folder / "arrangement.mid", stems.midi)
    return output("generate", {"engine": identity, "duration_s": stems.duration_s}, **files)


def generate(take: SongTake, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """The song's engine in one call (`engine.generate`), its stems written by write_take."""
    song = take.song
    stems = song.engine.engine.generate(song, song.engine.params, song.seed, progress=progress)
    return write_take(stems, folder, take.identity, song.seed)


def generate_step(engine: str, version: str, licence: Licence | None = None, loads_models: bool = False,
                  also_makes: tuple[str, ...] = ()) -> Step:
    """The one step of an engine that makes a take in one call; also_makes: what it writes beyond the stems and
    take.json ("engine_mix", "arrangement")."""
    return Step(name="generate", owner=engine, version=version, phase="generate", params=SongTake.of, run=generate,
                makes=(*TAKE_ROLES, *also_makes), loads_models=loads_models, licence=licence,
                players=TAKE_PLAYERS, artifacts=("take",))
