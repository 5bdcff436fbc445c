"""A song's plan: the ordered steps that make it, each wired to the steps whose files it reads.

The plan is the one description of a song's work that everything else asks: the flows submit it,
the progress bar counts it, the review page, MLflow and the lineage manifest read its players,
pictures, artifacts and metrics from it. Steps are the song steps (songforge.registry) and the
song's engine's own steps, ordered by phase; a step whose params are None for a song is left out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict

from .artifacts import StageOutput
from .errors import ParamsError
from .licences import Licence, LicenceTerms, commercial_problems, commercial_terms
from .models import ModelNeed
from .registry import song_steps
from .select import check_metrics
from .step import PHASES, Progress, Step
from .takes import engine_songs


class PlanError(ParamsError):
    """A step reads a role no earlier step makes: a step registered wrong, found before anything runs."""


@dataclass(frozen=True)
class PlannedStep:
    """A step in one song's plan: its params slice, and where each role it reads comes from (role -> step name)."""

    step: Step
    params: BaseModel
    sources: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.step.name


class PlanView(BaseModel):
    """What the plan tells the report, MLflow and the progress bar, as plain data (a task input, cache-keyed).

    players: (label, step, role) a person listens to, the last step's first (the song's main player); pictures
    and artifacts: (step, role); metrics: the steps whose data are the song's metrics; licences: (step, licence)
    of each step that uses a model or data under a licence (the engine's, the judges'), shown on the song's card;
    take_files: (step, role) of the take.json the song ends up with: for takes by several engines, each engine's
    (the kept take's is the one in the song's results).
    """

    model_config = ConfigDict(frozen=True)

    steps: tuple[str, ...]
    players: tuple[tuple[str, str, str], ...]
    pictures: tuple[tuple[str, str], ...]
    artifacts: tuple[tuple[str, str], ...]
    metrics: tuple[str, ...]
    take_files: tuple[tuple[str, str], ...]
    licences: tuple[tuple[str, str], ...] = ()


def merged_view(views: Sequence[PlanView]) -> PlanView:
    """One view of several plans (a song whose takes use different engines): every step, player, picture,
    artifact, metric step, take file and licence of any of them, each once, in the first plan's order."""
    def union(field: str) -> tuple:
        return tuple(dict.fromkeys(item for view in views for item in getattr(view, field)))

    return views[0].model_copy(update={field: union(field) for field in
                                       ("steps", "players", "pictures", "artifacts", "metrics", "take_files", "licences")})


@dataclass(frozen=True)
class SongPlan:
    song: str  # the song's title: unique within an album
    steps: tuple[PlannedStep, ...]
    words: tuple[tuple[str, Licence], ...] = ()  # (step, licence) of what drafted the words before the plan

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(planned.name for planned in self.steps)

    def licences(self) -> list[tuple[str, Licence]]:
        found = [(planned.step.key, planned.step.licence_for(planned.params)) for planned in self.steps]
        return list(self.words) + [(key, licence) for key, licence in found if licence is not None]

    def models(self) -> list[ModelNeed]:
        """Every model the plan's steps would load (those that declare them), checked on disk."""
        return [need for planned in self.steps if planned.step.models for need in planned.step.models(planned.params)]

    def view(self) -> PlanView:
        steps = [planned.step for planned in self.steps]
        makers = {role: step.name for step in steps for role in step.makes}  # the last maker of each role
        return PlanView(
            steps=self.names,
            players=tuple((label, step.name, role) for step in reversed(steps) for role, label in step.players),
            pictures=tuple((step.name, role) for step in steps for role in step.pictures),
            artifacts=tuple((step.name, role) for step in steps for role in step.artifacts),
            metrics=tuple(step.name for step in steps if step.metrics),
            take_files=((makers["take"], "take"),) if "take" in makers else (),
            licences=tuple((name, f"{licence}, commercial use: {licence.commercial_use}") for name, licence in
                           [*self.words, *((planned.name, planned.step.licence_for(planned.params))
                                           for planned in self.steps)] if licence))


def plan_song(song: Any, album: Any, engine_steps: tuple[Step, ...] | None = None) -> SongPlan:
    """The song's steps in phase order (song steps and its engine's), each read wired to its last maker.
    engine_steps: in place of the engine's own (`songforge edit` plans its edit step there: songforge.song_edit)."""
    candidates = song_steps() + list(song.engine.engine.steps if engine_steps is None else engine_steps)
    ordered = sorted(candidates, key=lambda step: PHASES.index(step.phase))  # stable: registration order kept
    planned, made = [], {}
    for step in ordered:
        params = step.params(song, album)
        if params is None:
            continue
        missing = [role for role in step.reads if role not in made]
        if missing:
            raise PlanError(f"steps.{step.key}", f"reads {', '.join(missing)}, which no earlier step of "
                            f"'{song.title}' makes", "register the step in a later phase, or the step that makes it")
        if step.name in {p.name for p in planned}:
            raise PlanError(f"steps.{step.key}", "has the name of an earlier step of the plan",
                            "give each step a name of its own")
        reads = [*step.reads, *(role for role in step.may_read if role in made)]
        planned.append(PlannedStep(step, params, tuple((role, made[role]) for role in reads)))
        made.update({role: step.name for role in step.makes})
    # a words step left out of the plan (a brief's lyricist runs before it): its licence is asked of the song itself
    words = tuple((step.key, licence) for step in ordered if step.phase == "words" and step.name not in
                  {p.name for p in planned} and (licence := step.licence_for(song)) is not None)
    return SongPlan(song.title, tuple(planned), words)


def metric_names(song: Any, album: Any) -> tuple[str, ...] | None:
    """The metric names the song's planned steps make (Step.metric_names); None when a planned metrics step does
    not declare its own (nothing can be checked then). Plans only the metrics steps: no engine is asked anything."""
    names: list[str] = []
    for step in song_steps() + list(song.engine.engine.steps):
        if step.metrics and step.params(song, album) is not None:
            if not step.metric_names:
                return None
            names += step.metric_names
    return tuple(dict.fromkeys(names))


def select_problems(album: Any, indices: list[int] | None = None) -> list[ParamsError]:
    """A ParamsError (under songs[i].select, i from `indices`: each song's place in its file) for each song whose
    take rule names a metric the planned steps do not make, naming those that they do make; for takes by several
    engines, checked with each engine (a take of one that lacks the metric could never be ranked), naming it."""
    problems = []
    for index, song in zip(indices or [n - 1 for n in album.song_numbers], album.songs):
        if song.select is None:
            continue
        for n, each in enumerate(engine_songs(song)):
            names = metric_names(each, album)
            if names is None:
                continue
            by = f" with take_engines[{n}] ('{each.engine.name}')" if song.take_engines else ""
            try:
                check_metrics(song.select, names, f"songs[{index}].select",
                              where=f"that a step of '{song.title}' makes{by}")
            except ParamsError as error:
                problems.append(error)
                break  # one problem per song
    return problems


def run_plan(plan: SongPlan, folder: Path, progress: Progress | None = None) -> dict[str, StageOutput]:
    """Every step of the plan in order, in this process: no cache, no GPU slot (tests and tools; flows submit it)."""
    results: dict[str, StageOutput] = {}
    for planned in plan.steps:
        inputs = {role: results[source] for role, source in planned.sources}
        results[planned.name] = planned.step.run(planned.params, inputs, folder, progress)
    return results


def check_commercial(album: Any, plans: list[SongPlan], source: str | None = None,
                     more: list[tuple[str, Licence]] = ()) -> None:
    """For an album with `commercial: true`: ParamsError naming every planned step (and `more`: steps run before
    the plan, e.g. a brief's lyricist) whose licence forbids it (or, with `enterprise: true`, allows it only below a
    revenue threshold); a LicenceTerms warning with the terms of each licence allowed on conditions."""
    if not getattr(album, "commercial", False):
        return
    uses = list(dict.fromkeys([use for plan in plans for use in plan.licences()] + list(more)))
    problems = commercial_problems(uses, set(album.licences_checked), getattr(album, "enterprise", False))
    if problems:
        raise ParamsError.all_of([ParamsError("commercial", problem, "drop the step (or the engine) from the album, "
                                              "or set commercial: false", source) for problem in problems])
    for terms in commercial_terms(uses):  # allowed on conditions: said before any run (the CLI prints them)
        warnings.warn(terms, LicenceTerms, stacklevel=2)
