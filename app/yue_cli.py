"""`songforge yue stage1|stage2|decode|encode`: YuE step by step, no Prefect.

Codes are read and written in the official .npy layout (uint32; (1, T) per track after stage 1,
(8, T) after stage 2), so a run can resume from any step or trade files with other YuE tools.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from songforge.engine.yue.params import DecodeParams, SamplingKnobs, Stage2Params, YuEParams
from songforge.errors import SongforgeError

from .console import fail, warnings_echoed
from .options import given, options_from, parsed

yue_app = typer.Typer(add_completion=False, no_args_is_help=True, help="YuE step by step, on .npy codes.")
CODEC_ALIAS = {"codec_model": "--codec"}  # the option's name before it was made from DecodeParams.codec_model


def _bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr)

    def progress(fraction: float, step: str) -> None:
        bar.set_postfix_str(step)
        bar.update(max(0, int(fraction * 1000) - bar.n))

    return bar, progress


def _yue_song(file: Path, title: Optional[str]):
    from songforge.album_file import load_album

    album = load_album(file)
    songs = [s for s in album.songs if title is None or s.title == title]
    if not songs:
        raise SongforgeError(f"{file}: no song titled '{title}'. Fix: use one of "
                             f"{', '.join(repr(s.title) for s in album.songs)}.")
    song = songs[0]
    if song.engine.name != "yue":
        raise SongforgeError(f"{file}: song '{song.title}' uses engine '{song.engine.name}'. "
                             "Fix: set `engine: {name: yue}` for it.")
    return song, song.engine.params


def _with_knobs(params: YuEParams, knobs: dict[str, Any]) -> YuEParams:
    """The song's params with the sampling knobs given on the command line, checked as the file's are."""
    if not knobs:
        return params
    checked = parsed(SamplingKnobs, {**params.knobs().model_dump(), **knobs})
    return params.model_copy(update=checked.model_dump())  # every knob just validated by its definition


@yue_app.command("stage1")
@options_from(SamplingKnobs, tuple(SamplingKnobs.model_fields), unset_keeps="the song's value")
def stage1_command(
    file: Path = typer.Argument(..., help="song or album params YAML whose song uses engine: yue"),
    out: Path = typer.Option(Path("yue-out/stage1"), help="folder for <name>_vtrack.npy and <name>_itrack.npy"),
    title: Optional[str] = typer.Option(None, help="which song of an album (default: the first)"),
    seeds: Optional[str] = typer.Option(None, help="several takes in one batch, e.g. '1,2,3' (default: the song's "
                                                   "seed); files get a -seedN suffix"),
    **knobs: Any,
) -> None:
    """Lyrics and tags -> codebook-0 codes of the vocal and instrumental tracks. A sampling option given here
    overrides the song's value."""
    from songforge.engine.yue.engine import Take, resolve_memory, stage1_takes
    from songforge.engine.yue.tokens import save_codes

    try:
        chosen = [int(s) for s in seeds.split(",")] if seeds else []
    except ValueError:
        fail(SongforgeError(f"--seeds '{seeds}' is not a list of integers. Fix: write e.g. --seeds 1,2,3."))
    try:
        song, params = _yue_song(file, title)
        params = _with_knobs(params, given(knobs))
        takes = chosen or [song.seed]
        bar, progress = _bar("stage 1")
        with bar:
            codes = stage1_takes([Take(song.style, song.sections.text, seed) for seed in takes],
                                 resolve_memory(params).stage1(), progress)
        for seed, (vocal, instrumental) in zip(takes, codes):
            name = song.slug + (f"-seed{seed}" if seeds else "")
            for track, track_codes in (("vtrack", vocal), ("itrack", instrumental)):
                typer.echo(save_codes(out / f"{name}_{track}.npy", track_codes))
    except SongforgeError as error:
        fail(error)


@yue_app.command("stage2")
@options_from(Stage2Params, ("model", "compat", "batch_size", "dtype"))
def stage2_command(
    vtrack: Path = typer.Argument(..., help="stage-1 vocal codes, (1, T) .npy"),
    itrack: Path = typer.Argument(..., help="stage-1 instrumental codes, (1, T) .npy"),
    out: Path = typer.Option(Path("yue-out/stage2"), help="folder for the (8, T) .npy files (same names)"),
    **settings: Any,
) -> None:
    """Codebook-0 codes -> all 8 codebooks, teacher-forced. With --compat official, both tracks are written as
    infer.py writes them, codes its fix step left invalid included (a warning names them; decode refuses them)."""
    from songforge.engine.yue.engine import stage2
    from songforge.engine.yue.stage2 import InvalidCodesWarning
    from songforge.engine.yue.tokens import load_codes, save_codes

    try:
        params = parsed(Stage2Params, settings)
        bar, progress = _bar("stage 2")
        with bar, warnings_echoed(InvalidCodesWarning):
            codes = stage2(load_codes(vtrack), load_codes(itrack), params, progress)
        for source, result in zip((vtrack, itrack), codes):
            typer.echo(save_codes(out / source.name, result, allow_invalid=params.compat == "official"))
    except (SongforgeError, ValueError) as error:
        fail(error)


@yue_app.command("decode")
@options_from(DecodeParams, ("codec_model", "low_band_hz", "rescale"), aliases=CODEC_ALIAS)
def decode_command(
    vtrack: Path = typer.Argument(..., help="stage-2 vocal codes, (8, T) .npy"),
    itrack: Path = typer.Argument(..., help="stage-2 instrumental codes, (8, T) .npy"),
    out: Path = typer.Option(Path("yue-out/audio"), help="folder for vocals.wav, instrumental.wav, mix.wav"),
    **settings: Any,
) -> None:
    """8-codebook codes -> 44.1 kHz vocal, instrumental and mixed WAVs (float32)."""
    from songforge.audio.io import write_wav
    from songforge.engine.yue.engine import decode
    from songforge.engine.yue.tokens import check_decodable, load_codes

    try:
        params = parsed(DecodeParams, settings)
        vocal, instrumental = load_codes(vtrack, allow_invalid=True), load_codes(itrack, allow_invalid=True)
        check_decodable({str(vtrack): vocal, str(itrack): instrumental})  # names the files; before the codec loads
        stems = decode(vocal, instrumental, params)
        for name, audio in (("vocals", stems.vocals), ("instrumental", stems.instrumental), ("mix", stems.mix)):
            typer.echo(write_wav(out / f"{name}.wav", audio, stems.sample_rate, "FLOAT"))
    except SongforgeError as error:
        fail(error)


@yue_app.command("encode")
@options_from(DecodeParams, ("codec_model",), aliases=CODEC_ALIAS)
def encode_command(
    audio: Path = typer.Argument(..., help="audio file to encode (any rate; mixed to mono)"),
    out: Path = typer.Option(..., help="the .npy to write, (n, T) uint32"),
    codebooks: int = typer.Option(1, help="1 for stage-1 prompts, 8 for stage-2 codes"),
    **settings: Any,
) -> None:
    """Audio -> X-Codec codes, as ICL prompts use them."""
    from songforge.audio.io import read_audio
    from songforge.engine.yue.codec import encode, load_codec
    from songforge.engine.yue.engine import model_folder
    from songforge.engine.yue.tokens import save_codes

    try:
        samples, rate = read_audio(audio)
        codec = load_codec(model_folder(parsed(DecodeParams, settings).codec_model))
        codes = encode(codec, samples.mean(axis=1), rate, n_codebooks=codebooks)
        typer.echo(f"{save_codes(out, codes)}: {codes.shape[0]} x {codes.shape[1]} codes")
    except SongforgeError as error:
        fail(error)
