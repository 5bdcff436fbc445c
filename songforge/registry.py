"""Engines and song steps by name, found the same way by every process: built-ins, then plugins.

A new song step is one module that calls `register_step` and one line in SONG_STEPS (or, for a plugin,
an entry point in the `songforge.plugins` group, or a module named in SONGFORGE_PLUGINS). A new engine
is one package and one line in ENGINES (or `register_engine` from a plugin). Plugins are imported on
the registry's first use, so a deployment's worker process finds the same steps as the CLI.
"""

from __future__ import annotations

import os
import threading
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from .errors import ParamsError
from .step import Step

ENGINES = {
    "sketch": "songforge.engine.sketch.engine:SketchEngine",
    "yue": "songforge.engine.yue.steps:YuEEngine",
    "stable-audio-open": "songforge.engine.stable_audio.engine:StableAudioEngine",
    "ace-step": "songforge.engine.ace_step.steps:AceStepEngine",
    "musicgen": "songforge.engine.musicgen.steps:MusicGenEngine",
}
SONG_STEPS = (
    "songforge.steps.lyricist",
    "songforge.steps.lyricist_local",
    "songforge.steps.lyrics",
    "songforge.steps.separate",
    "songforge.steps.refine_vocals",
    "songforge.steps.mix",
    "songforge.steps.master",
    "songforge.steps.measure",
    "songforge.steps.flags",
    "songforge.steps.mulan",
    "songforge.steps.songeval",
    "songforge.steps.clap",
    "songforge.steps.aesthetics",
    "songforge.steps.intelligibility",
    "songforge.steps.plots",
)
PLUGIN_GROUP = "songforge.plugins"
PLUGINS_ENV = "SONGFORGE_PLUGINS"

_engines: dict[str, str] = dict(ENGINES)
_steps: dict[str, Step] = {}
_loaded = False
_loading = threading.RLock()


def register_engine(name: str, target: str) -> None:
    """Add an engine as 'module:Class'; songs name it as engine.name."""
    _engines[name] = target


def register_step(step: Step) -> Step:
    """Add a song step (a module's one registration line); a step of the same name is replaced."""
    assert step.owner == "song", f"{step.key} belongs to an engine: list it in the engine's `steps`"
    _load()  # the built-ins first, whoever registers first: within a phase, steps run in registration order
    _steps[step.name] = step
    return step


def available_engines() -> list[str]:
    _load()
    return sorted(_engines)


def get_engine(name: str) -> Any:
    """An engine instance by registry name; ParamsError naming the choices otherwise."""
    _load()
    if name not in _engines:
        raise ParamsError("engine.name", f"unknown engine '{name}'", f"use one of: {', '.join(sorted(_engines))}")
    module, cls = _engines[name].split(":")
    return getattr(import_module(module), cls)()


def song_steps() -> list[Step]:
    """Every registered song step, in registration order (built-ins first)."""
    _load()
    return list(_steps.values())


def get_step(key: str) -> Step:
    """A step by its key: a song step's name, or '<engine>/<name>' for an engine's step."""
    _load()
    owner, _, name = key.rpartition("/")
    found = _steps.get(key) if not owner else next((s for s in get_engine(owner).steps if s.name == name), None)
    if found is None:
        raise KeyError(f"no step '{key}' is registered in this process (a plugin not installed here?)")
    return found


def _load() -> None:
    """Import the built-in steps and every plugin, once per process."""
    global _loaded
    if _loaded:
        return
    with _loading:
        if _loaded:
            return
        _loaded = True  # set first: a plugin that looks something up while it registers finds what is there
        for module in SONG_STEPS:
            import_module(module)
        for module in _plugin_modules():
            import_module(module)


def _plugin_modules() -> list[str]:
    named = [module.strip() for module in os.environ.get(PLUGINS_ENV, "").split(",") if module.strip()]
    return named + [point.value.split(":")[0] for point in entry_points(group=PLUGIN_GROUP)]
