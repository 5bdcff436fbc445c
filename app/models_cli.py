"""`songforge models list|pull`: the pinned model catalogue, what is on disk, and pulls from the hub."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from songforge.errors import SongforgeError

from .console import fail

models_app = typer.Typer(add_completion=False, no_args_is_help=True, help="YuE and X-Codec weights.")


@models_app.command("list")
def list_command() -> None:
    """Known model names, their hub repos, pinned commits and licences, and what is on disk (reads manifests, no
    hashing); then every engine's steps with their licences."""
    from songforge.catalogue import all_models, model_folder
    from songforge.models import models_dir
    from songforge.registry import available_engines, get_engine, song_steps

    typer.echo(f"models folder: {models_dir()}  (set SONGFORGE_MODELS to move it)")
    rows = [(name, entry.repo, entry.revision[:12] if entry.pinned else f"{entry.revision} (unpinned)",
             entry.licence.id, f"commercial: {entry.licence.commercial_use}", _disk_state(model_folder(name)))
            for name, entry in all_models().items()]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]  # columns line up, whatever the names
    for row in rows:
        typer.echo(" ".join(cell.ljust(width) for cell, width in zip(row, widths)) + f" {row[5]}")
    typer.echo("\nsteps and the licences of the models they use (commercial use: yes / no / unknown):")
    steps = [*song_steps(), *(step for name in available_engines() for step in get_engine(name).steps)]
    width = max(len(step.key) for step in steps)
    for step in steps:
        if callable(step.licence):
            licence = "the licence of the model the song names (its row above; a file of your own: unknown)"
        else:
            licence = f"{step.licence}  commercial: {step.licence.commercial_use}" if step.licence else "no model"
        typer.echo(f"  {step.key:<{width}}  {licence}")
    _list_voices()


def _list_voices() -> None:
    """The RVC voices (and their indexes) in the models folder's voices/, which refine_vocals names."""
    from songforge.voice.rvc.files import voice_models, voices_dir

    typer.echo(f"\nvoice models in {voices_dir()} (a song's refine_vocals: {{model: voices/NAME.pth}}; the rights "
               "to a voice are its owner's, not songforge's):")
    found = voice_models()
    for voice, indexes in found:
        typer.echo(f"  {voice.name:<32} {voice.stat().st_size / 1e6:6.1f} MB  "
                   f"index: {', '.join(index.name for index in indexes) or '-'}")
    if not found:
        typer.echo("  (none)")


def _disk_state(folder: Path) -> str:
    """'-' (absent), 'pulled <commit>' (+ ', modified' if a file left what was pulled), or 'present (no manifest)'."""
    from songforge.models import read_manifest

    if not folder.is_dir():
        return "-"
    manifest = read_manifest(folder)
    if manifest is None:
        return "present (no manifest: not pulled by this version)"
    modified = any("pulled_sha256" in entry for entry in manifest["files"].values())
    return f"pulled {manifest['revision'][:12]}" + (", modified since" if modified else "")


@models_app.command("pull")
def pull_command(
    names: list[str] = typer.Argument(..., help="model names, e.g. yue-en-cot yue-s2 xcodec"),
    dest: Optional[Path] = typer.Option(None, help="download folder (default: the models folder / NAME)"),
) -> None:
    """Download models at their pinned commits from the Hugging Face hub (needs network; converts xcodec for
    transformers) and record every file's sha256 in the folder's songforge-model.json."""
    from songforge.catalogue import catalogue_entry, pull
    from songforge.models import read_manifest

    try:
        for name in names:  # every name checked before the first download
            catalogue_entry(name)
        for name in names:
            folder = pull(name, dest / name if dest else None)
            manifest = read_manifest(folder)
            typer.echo(f"{name}: {folder}  ({manifest['repo']}@{manifest['revision'][:12]}, "
                       f"{len(manifest['files'])} files recorded)")
    except SongforgeError as error:
        fail(error)
