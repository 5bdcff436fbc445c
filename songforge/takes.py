"""A song's takes: their seeds and folders, and the kept take (chosen by the song's rule, songforge.select) copied
into the song's folder, with takes.json saying what every take measured and why the kept one was chosen.

Take `i` (from 0, continuing across retake rounds) of a song with seed `s` is the song with seed `take_seed(s, i)`
and, for a song with `take_engines` (n of them), the engine take_engines[i mod n] (take_song):
take 0 keeps `s` (so `takes: 1` is the song as it always was); take i > 0 has the first 4 bytes of
sha256("songforge-take:<s>:<i>"), big-endian, masked to 31 bits. Every take is made in
`<song folder>/takes/<nn>/` (nn = i + 1, two digits); the kept one's files are linked (or copied) into the song
folder atomically, at the same paths relative to it, so a rerun with another rule only re-chooses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from .artifacts import FileRef, StageOutput, output
from .params import reads_yue_tags
from .paths import atomic_path, write_json
from .select import SelectRule, choose, failure_flags
from .tags import normalize_tags

TAKES_FOLDER = "takes"
TAG_FIELDS = ("genre", "mood", "instrument", "voice")


def take_seed(seed: int, index: int) -> int:
    """The seed of take `index` of a song seeded `seed` (see the module's docstring)."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"songforge-take:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def take_engine(song: Any, index: int) -> Any:
    """The engine (EngineSpec) that makes take `index`: take_engines[index mod n], or the song's one engine."""
    engines = song.take_engines
    return engines[index % len(engines)] if engines else song.engine


def take_song(song: Any, index: int) -> Any:
    """Take `index` of `song`: the song with its take's seed and engine, as a song of one take and one engine (its
    tags normalised to YuE's vocabulary for an engine that reads it, as a plain song of that engine has them)."""
    engine = take_engine(song, index)
    tags = {field: normalize_tags(field, getattr(song, field)) for field in TAG_FIELDS} \
        if song.take_engines and reads_yue_tags(engine) else {}
    return song.model_copy(update={"seed": take_seed(song.seed, index), "engine": engine, "take_engines": (),
                                   "takes": 1, "select": None, "retakes": 0, **tags})


def engine_songs(song: Any) -> list[Any]:
    """The song as each engine of its takes makes it (its first take by that engine): what licence checks,
    preflight and the plan's view cover. A song of one engine is itself."""
    return [take_song(song, index) for index in range(len(song.take_engines))] if song.take_engines else [song]


def take_title(index: int, engine: str | None, engines_differ: bool) -> str:
    """How takes.json's reason and the report name take `index`: 'take 2', or among takes by several engines
    'take 2 (musicgen)'."""
    return f"take {index + 1}" + (f" ({engine})" if engines_differ else "")


def take_folder(song_folder: Path, index: int) -> Path:
    return Path(song_folder) / TAKES_FOLDER / f"{index + 1:02d}"


def round_indices(song: Any, round_number: int) -> range:
    """The take indices of round `round_number` (0: the song's takes; 1..retakes: the redraws)."""
    return range(round_number * song.takes, (round_number + 1) * song.takes)


def keep_take(rule: SelectRule, seeds: Sequence[int], takes: Sequence[Mapping[str, StageOutput]],
              metric_steps: Sequence[str], song_folder: Path, indices: Sequence[int] | None = None,
              engines: Sequence[str] | None = None) -> dict[str, StageOutput]:
    """Choose among `takes` (each: step name -> its output, made in take_folder(song_folder, index)) by `rule` over
    the data of their `metric_steps`; the kept take's outputs, linked into `song_folder`, by step name, and under
    "takes" takes.json (every take's seed, engine, folder, metrics and flags; the kept one; the reason).
    `engines`: the engine name of each take (None: not recorded); when they differ, the reason names them too.

    A take whose steps did not all finish (an output that is not a StageOutput: take_error) is never kept, and the
    reason says why it failed. When every take is flagged or failed (or none can be ranked), nothing is linked:
    only "takes", with `kept` None, its record in takes/none-kept-of-<n>.json.
    """
    indices = list(indices if indices is not None else range(len(takes)))
    names = list(engines) if engines is not None else [None] * len(takes)
    labels = [take_title(index, name, len(set(names)) > 1) for index, name in zip(indices, names)]
    errors = [take_error(outputs) for outputs in takes]
    metrics = [{} if error else _metrics(outputs, metric_steps) for outputs, error in zip(takes, errors)]
    finished = [i for i, error in enumerate(errors) if error is None]  # a take that failed is never a candidate
    choice = choose(rule, [metrics[i] for i in finished], [labels[i] for i in finished])
    kept = None if choice.index is None else finished[choice.index]
    failures = [f"{label} failed: {error}" for label, error in zip(labels, errors) if error]
    record = {"rule": str(rule), "kept": None if kept is None else indices[kept],
              "reason": "; ".join([choice.reason, *failures]),
              "takes": [_take_record(index, seed, song_folder, m, rule, error) | ({"engine": name} if name else {})
                        for index, seed, m, error, name in zip(indices, seeds, metrics, errors, names)]}
    if kept is None:  # not takes.json: a round that kept none must not undo the next round's choice
        where = song_folder / TAKES_FOLDER / f"none-kept-of-{len(indices)}.json"
        return {"takes": output("takes", record, takes=write_json(where, record))}
    folders = [take_folder(song_folder, i) for i in indices]
    linked = _link_take(takes[kept], song_folder, folders)
    # after the link: a run killed in between leaves the kept take whole, and its rerun removes the rest
    _unlink_stale(takes[kept], [takes[i] for i in finished if i != kept], song_folder, folders)
    return {**linked, "takes": output("takes", record, takes=write_json(song_folder / "takes.json", record))}


def take_error(outputs: Mapping[str, Any]) -> str | None:
    """Why a take did not finish: its first step whose output is not a StageOutput (the flow hands the choice a
    failed step's exception, and None for a step that never ran), or None for a finished take."""
    for step, made in outputs.items():
        if not isinstance(made, StageOutput):
            return f"{step}: {type(made).__name__}: {made}" if isinstance(made, BaseException) else \
                f"{step}: did not run"
    return None


def _metrics(outputs: Mapping[str, StageOutput], metric_steps: Sequence[str]) -> dict[str, Any]:
    return {key: value for step in metric_steps if step in outputs for key, value in outputs[step].data.items()}


def _take_record(index: int, seed: int, song_folder: Path, metrics: dict[str, Any], rule: SelectRule,
                 error: str | None) -> dict:
    folder = take_folder(song_folder, index)
    return {"index": index, "seed": seed, "folder": folder.relative_to(song_folder).as_posix(),
            "metrics": {name: metrics.get(name) for name in rule.metrics},
            "flags": failure_flags(metrics) or [], "all_metrics": metrics, "error": error}


def _link_take(outputs: Mapping[str, StageOutput], song_folder: Path,
               folders: Sequence[Path]) -> dict[str, StageOutput]:
    """Every file of the take's outputs at the same path under `song_folder`, relative to whichever take folder
    holds it (a step the takes share ran once, in the first take's folder); outputs pointing there."""
    linked = {}
    for step, made in outputs.items():
        files = {role: _link(ref, song_folder, folders) for role, ref in made.files.items()}
        linked[step] = StageOutput(made.stage, files, dict(made.data))
    return linked


def _unlink_stale(kept: Mapping[str, StageOutput], others: Sequence[Mapping[str, StageOutput]], song_folder: Path,
                  folders: Sequence[Path]) -> None:
    """Remove from `song_folder` the files another finished take made (at their paths relative to its take folder)
    that the kept take lacks: a re-choice of a take by another engine (other steps, other files) leaves no file of
    the take kept before. Called after the kept take is linked, so a run killed here leaves the kept take whole."""
    keep = _take_paths(kept, folders)
    for relative in sorted(set().union(*[_take_paths(outputs, folders) for outputs in others]) - keep):
        (song_folder / relative).unlink(missing_ok=True)
        for parent in relative.parents[:-1]:  # a folder of the stale take's left empty (stems/) goes too
            if not any((song_folder / parent).iterdir()):
                (song_folder / parent).rmdir()


def _take_paths(outputs: Mapping[str, StageOutput], folders: Sequence[Path]) -> set[Path]:
    """The take's files, relative to the take folder holding each (those made outside the takes left out)."""
    paths = set()
    for made in outputs.values():
        for ref in made.files.values():
            source = Path(ref.path)
            folder = _holding_folder(source, folders)
            if folder is not None:
                paths.add(source.relative_to(folder))
    return paths


def _holding_folder(source: Path, folders: Sequence[Path]) -> Path | None:
    return next((f for f in folders if f == source.parent or f in source.parents), None)


def _link(ref: FileRef, song_folder: Path, folders: Sequence[Path]) -> FileRef:
    source = Path(ref.path)
    folder = _holding_folder(source, folders)
    if folder is None:
        return ref  # made outside the takes (a step shared with other songs): used where it is
    target = song_folder / source.relative_to(folder)
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)  # the same file, no copy: its content hash and modification time hold
        except OSError:
            shutil.copy2(source, tmp)
    return FileRef.of(target) if Path(target).stat().st_mtime_ns != ref.mtime_ns else \
        FileRef(str(target), ref.sha256, ref.size, ref.mtime_ns)
