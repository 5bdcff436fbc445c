"""Path confinement for runs started through deployments: every path must resolve inside allowed roots.

A person running `songforge album` names any file they can read. A deployment run's album file,
out folder and every path inside come from whoever starts the run, so there each path (after
symlinks) must lie inside the deployment's project folder or a root the operator lists in
SONGFORGE_ALLOWED_ROOTS. The flows decide when a run is a deployment's and pass the roots in;
None (a local run) confines nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import ParamsError

ROOTS_SETTING = "SONGFORGE_ALLOWED_ROOTS"

Roots = Sequence[Path] | None


class OutsideRoots(ParamsError):
    """A path outside the roots a deployment run may use: never a song's own failure, always the whole run's."""


def allowed_roots(project: Path, environ: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """The project folder, then every folder in SONGFORGE_ALLOWED_ROOTS (os.pathsep-separated), resolved."""
    listed = [part for part in environ.get(ROOTS_SETTING, "").split(os.pathsep) if part.strip()]
    return tuple(dict.fromkeys(Path(root).expanduser().resolve() for root in [project, *listed]))


def is_inside(path: Path, roots: Iterable[Path]) -> bool:
    """Whether `path`, symlinks resolved (relative to the working folder), lies in one of `roots`."""
    resolved = Path(path).expanduser().resolve()
    return any(resolved == root or root in resolved.parents for root in (Path(r).resolve() for r in roots))


def confine(path: Path, roots: Roots, field: str, source: str | None = None) -> None:
    """ParamsError naming `field` and the setting when `path` is outside `roots`; no check when roots is None."""
    if roots is None or is_inside(path, roots):
        return
    shown = str(path)  # ParamsError clips a long one
    raise OutsideRoots(field, f"'{shown}' is outside the folders a deployment run may use "
                      f"({', '.join(str(root) for root in roots)})",
                      f"use a path inside them, or have the operator add its folder to {ROOTS_SETTING} "
                      f"(folders separated by '{os.pathsep}') on the workers", source)


def confine_all(paths: Mapping[str, Path], roots: Roots, source: str | None = None) -> None:
    """confine() every field -> path at once: one ParamsError listing each path outside the roots."""
    problems = []
    for field, path in paths.items():
        try:
            confine(path, roots, field, source)
        except ParamsError as error:
            problems.append(error)
    if problems:
        raise ParamsError.all_of(problems)
