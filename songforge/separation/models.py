"""Separator models (python-audio-separator's UVR family): their catalogue entries, their folders, and what a folder
must hold so that loading never touches the network.

Each model has its own folder under the models folder (models_dir()/NAME), and that folder is the
`model_file_dir` audio-separator loads from: the weights, their YAML config where the architecture has one,
and `download_checks.json`, the model list audio-separator reads at every load (and downloads when it is
absent). A pull writes all of them (audio-separator's own download, run by `songforge models pull NAME`);
a host without internet gets a copy of the folder. Hash-identified models (MDX-Net, VR) also need UVR's
`mdx_model_data.json` and `vr_model_data.json`, which the pull fetches too.

NAME is the catalogue's alias of the default model, any file name audio-separator lists (e.g.
`mel_band_roformer_kim_ft_unwa.ckpt`, pulled the way audio-separator downloads it), or a folder of the user's
own (a path): a checkpoint and its YAML listed in that folder's download_checks.json, which is how
audio-separator accepts a model it does not know.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..artifacts import file_sha256
from ..catalogue import HubModel, register_family, register_model
from ..errors import EngineError
from ..licences import Licence, unknown
from ..models import ModelNeed, folder_state, models_dir
from ..paths import write_json

MODEL_LIST = "download_checks.json"
HASH_DATA = ("mdx_model_data.json", "vr_model_data.json")  # UVR's parameters of models identified by hash
WEIGHT_SUFFIXES = (".ckpt", ".onnx", ".pth", ".th", ".yaml")  # how audio-separator's model names end
UVR_RELEASES = "https://github.com/TRvlvr/model_repo/releases/tag/all_public_uvr_models"

DEFAULT_MODEL = "bs-roformer-viperx-1297"
DEFAULT_FILE = "model_bs_roformer_ep_317_sdr_12.9755.ckpt"
# sha256 of the 639,331,213-byte release file, as recorded by several projects that pin it (no upstream digest)
DEFAULT_SHA256 = "5b84f37e8d444c8cb30c79d77f613a41c05868ff9c9ac6c7049c00aefae115aa"
VIPERX_1297 = Licence(
    DEFAULT_MODEL, "no licence stated (viperx's BS-Roformer in UVR's model repository)", "unknown", UVR_RELEASES,
    "upstream states no terms for these weights (audio-separator's code is MIT); read the release and list "
    f"{DEFAULT_MODEL} under licences_checked to vouch for them")


def new_separator(folder: Path, **settings: Any) -> Any:
    """audio-separator's Separator on `folder` (its model_file_dir), quiet; the process's warning filters are kept
    (its constructor would silence every warning, songforge's own included)."""
    import warnings

    from audio_separator.separator import Separator

    with warnings.catch_warnings():
        return Separator(model_file_dir=str(folder), log_level=logging.WARNING, **settings)


def _download(filename: str, sha256: str = "") -> Any:
    """A catalogue `download`: audio-separator's own download of `filename` (its list, weights, config, and the
    hash-identified models' parameter files) into the folder; returns the revision recorded (the weights'
    sha256), refusing weights that are not the pinned ones. Every file is fetched afresh: audio-separator writes
    in place and skips a file that exists, so one an interrupted pull left must not be kept."""
    def fetch(dest: Path) -> str:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / MODEL_LIST).unlink(missing_ok=True)
        lister = new_separator(dest, info_only=True, output_dir=str(dest))
        for need in model_list(dest, filename, lister).get(filename, {}).get("needs", []):
            (dest / need).unlink(missing_ok=True)
        _, _, _, path, config = lister.download_model_files(filename)
        if config is None and not filename.endswith(".yaml"):
            for stale in HASH_DATA:
                (dest / stale).unlink(missing_ok=True)
            lister.load_model_data_using_hash(path)  # fetches HASH_DATA, which loading this model reads
        found = file_sha256(Path(path))
        if sha256 and found != sha256:
            Path(path).unlink()
            raise EngineError(f"{filename} downloaded into {dest} has sha256 {found}, not the {sha256} songforge "
                              "pins. Fix: the release file changed upstream; check it, then update DEFAULT_SHA256 "
                              "in songforge/separation/models.py (or pull the model by its file name).")
        return found
    return fetch


def _listed(name: str) -> HubModel | None:
    """Any model file name audio-separator lists (or UVR's list names at pull time): pulled its way, unpinned."""
    if "/" in name or not name.endswith(WEIGHT_SUFFIXES):
        return None
    return HubModel("audio-separator model list", "", unknown(name, UVR_RELEASES), (), f"separator model {name}",
                    download=_download(name))


MODELS = {DEFAULT_MODEL: register_model(DEFAULT_MODEL, HubModel(
    "TRvlvr/model_repo (UVR releases)", DEFAULT_SHA256, VIPERX_1297, (DEFAULT_FILE,),
    "BS-Roformer vocals/instrumental separator (viperx, published SDR 12.97 vocals)",
    download=_download(DEFAULT_FILE, DEFAULT_SHA256)))}
register_family(_listed)


def separator_folder(name: str) -> Path:
    """The folder of a model NAME: a path as given, else the models folder's NAME."""
    if "/" in name or name.startswith(("~", ".")):
        return Path(name).expanduser()
    return models_dir() / name


def licence_of(name: str) -> Licence:
    """The licence of a model a song names: the catalogue's, else terms nobody has checked (named by the model)."""
    entry = MODELS.get(name) or _listed(name)
    return entry.licence if entry is not None else unknown(Path(name).name)


def _fix(name: str) -> str:
    if name in MODELS or _listed(name) is not None:
        return (f"run `songforge models pull {name}` on a host with internet (on a host without, copy that "
                f"folder from one that pulled it into {models_dir()})")
    return f"put the model's files and its {MODEL_LIST} entry in {separator_folder(name)}, or name another model"


def model_list(folder: Path, name: str, lister: Any = None) -> dict[str, dict[str, Any]]:
    """Every model the folder's list names, by file name -> the files it needs there (audio-separator's own
    reading of download_checks.json and its packaged lists). With no `lister` (a Separator on the folder, which
    downloads the list where it is absent), a folder without the list is refused: loading never downloads."""
    if lister is None and not (folder / MODEL_LIST).is_file():
        raise EngineError(f"separator model '{name}': {folder / MODEL_LIST} is missing (audio-separator would "
                          f"download it at every load). Fix: {_fix(name)}.")
    lister = lister or new_separator(folder, info_only=True, output_dir=str(folder))
    found: dict[str, dict[str, Any]] = {}
    for architecture, models in lister.list_supported_model_files().items():
        for info in models.values():
            needs = [Path(str(file)).name for file in info["download_files"]]
            found[info["filename"]] = {"architecture": architecture, "needs": list(dict.fromkeys(needs))}
    return found


def checkpoint(name: str) -> tuple[Path, str, str]:
    """(folder, the file audio-separator loads, its architecture) for a model NAME, checked offline: the folder
    holds the list, the weights, their config and any hash data. EngineError naming what is missing and the fix."""
    folder = separator_folder(name)
    if not folder.is_dir():
        raise EngineError(f"separator model '{name}': {folder} is not there. Fix: {_fix(name)}.")
    listed = model_list(folder, name)
    wanted = MODELS[name].patterns[0] if name in MODELS else Path(name).name
    present = [file for file in listed if (folder / file).is_file()]  # the weights name the model
    chosen = wanted if wanted in listed else (present[0] if len(present) == 1 else None)
    if chosen is None:
        raise EngineError(f"separator model '{name}': {folder / MODEL_LIST} lists {len(present)} models whose "
                          f"weights are in {folder} (one is needed). Fix: {_fix(name)}.")
    info = listed[chosen]
    needs = info["needs"] + (list(HASH_DATA) if info["architecture"] in ("MDX", "VR") else [])
    missing = [need for need in needs if not (folder / need).is_file()]
    if missing:
        raise EngineError(f"separator model '{name}': {folder} lacks {', '.join(missing)}. Fix: {_fix(name)}.")
    return folder, chosen, info["architecture"]


def identity(name: str) -> str:
    """Changes when the model's files change (songforge.models: recorded hashes trusted while sizes and mtimes
    hold); '<name>:absent' for a folder not there (the step then says how to get it)."""
    folder = separator_folder(name)
    if not folder.is_dir():
        return f"{name}:absent"
    state = folder_state(folder, _fix(name))
    return f"{state.revision[:12] if state.revision else 'local'}:{state.digest()[:16]}"


def write_own_list(folder: Path, file: str, config: str, architecture: str = "roformer") -> Path:
    """The download_checks.json that lists one model of one's own (weights `file` and YAML `config` in `folder`,
    `architecture` 'roformer' or 'mdx23c'): how audio-separator's loader accepts a model it does not know."""
    lists = ("vr_download_list", "mdx_download_list", "mdx_download_vip_list", "demucs_download_list",
             "mdx23c_download_list", "mdx23c_download_vip_list", "roformer_download_list")
    models: dict[str, Any] = {name: {} for name in lists}
    models[f"{architecture}_download_list"] = {f"Own model: {file}": {file: config}}
    return write_json(Path(folder) / MODEL_LIST, models)


def model_need(name: str, role: str = "separator") -> ModelNeed:
    """A separator model a step would load, checked on disk the way its loader checks it (no weights read)."""
    try:
        checkpoint(name)
        missing: tuple[str, ...] = ()
    except EngineError as error:
        missing = (".",) if not separator_folder(name).is_dir() else (str(error).split(": ", 1)[-1][:160],)
    return ModelNeed(role, name, separator_folder(name), missing,
                     pull=name if name in MODELS or _listed(name) is not None else None)
