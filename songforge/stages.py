"""The song pipeline's stages as plain functions: files in, files out, a StageOutput back.

Each stage reads its inputs from upstream StageOutputs, calls the pure audio code, and
writes its files atomically into the song's folder. Orchestration (caching, retries,
tracking) wraps these in tasks/; nothing here knows about it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .artifacts import StageOutput, output
from .audio.io import read_audio, write_mp3, write_wav
from .engine.base import Progress
from .paths import atomic_path, write_bytes, write_json, write_text
from .params import MasterSpec, MeasureSpec, MixSpec, SongSpec

# Bump a stage's version whenever its output for the same inputs changes: it is part of
# every cache key, so old results are not reused after such a change.
STAGE_VERSIONS = {"lyrics": "1", "generate": "2", "mix": "1", "master": "1", "measure": "1", "plots": "1"}


def write_lyrics(song: SongSpec, song_dir: Path) -> StageOutput:
    """lyrics.txt in YuE's section format, and style.txt with the tag line."""
    lyrics = write_text(song_dir / "lyrics.txt", song.sections.text)
    style = write_text(song_dir / "style.txt", song.style + "\n")
    return output("lyrics", lyrics=lyrics, style=style)


def generate(song: SongSpec, song_dir: Path, progress: Progress | None = None) -> StageOutput:
    """Run the song's engine: vocals.wav and instrumental.wav (float32), take.json, and arrangement.mid if known."""
    engine, params = song.engine.resolve()
    stems = engine.generate(song, params, song.seed, progress=progress)
    files = {
        "vocals": write_wav(song_dir / "stems" / "vocals.wav", stems.vocals, stems.sample_rate, "FLOAT"),
        "instrumental": write_wav(song_dir / "stems" / "instrumental.wav", stems.instrumental, stems.sample_rate, "FLOAT"),
        "take": write_json(song_dir / "take.json", {"engine": engine.identity(params), "seed": song.seed,
                                                     "duration_s": stems.duration_s, **stems.metadata}),
    }
    if stems.mix is not None:
        files["engine_mix"] = write_wav(song_dir / "stems" / "engine_mix.wav", stems.mix, stems.sample_rate, "FLOAT")
    if stems.midi is not None:
        files["arrangement"] = write_bytes(song_dir / "arrangement.mid", stems.midi)
    return output("generate", {"engine": engine.identity(params), "duration_s": stems.duration_s}, **files)


def mix(stems: StageOutput, spec: MixSpec, song_dir: Path) -> StageOutput:
    """mix.wav (float32): the stems through songforge.audio.mix."""
    from .audio.mix import mix_stems

    vocals, rate = read_audio(stems.path("vocals"))
    instrumental, _ = read_audio(stems.path("instrumental"), rate)
    mixed = mix_stems(vocals, instrumental, rate, spec)
    return output("mix", mix=write_wav(song_dir / "mix.wav", mixed, rate, "FLOAT"))


def master(mixed: StageOutput, spec: MasterSpec, song_dir: Path) -> StageOutput:
    """master.wav (24-bit) and master.mp3 (preview), mastered to a reference or a loudness target."""
    from .audio.master import master as master_audio

    audio, rate = read_audio(mixed.path("mix"))
    result = master_audio(audio, rate, spec)
    return output(
        "master", result.metrics(),
        master=write_wav(song_dir / "master.wav", result.audio, rate, "PCM_24"),
        preview=write_mp3(song_dir / "master.mp3", result.audio, rate),
    )


def measure(mastered: StageOutput, stems: StageOutput, song: SongSpec, spec: MeasureSpec, song_dir: Path) -> StageOutput:
    """metrics.json for the master (vocal range from the vocal stem) and pitch.npz, the contour."""
    from .measure.metrics import measure_audio

    audio, rate = read_audio(mastered.path("master"))
    vocals, vocal_rate = read_audio(stems.path("vocals"))
    measured = measure_audio(audio, rate, vocals, vocal_rate, bpm=song.bpm, key=song.musical_key,
                             pitch_model=spec.pitch_model)
    metrics = measured.to_dict()
    pitch_path = _write_npz(song_dir / "pitch.npz", times_s=measured.pitch.times_s, midi=measured.pitch.midi)
    return output("measure", metrics, metrics=write_json(song_dir / "metrics.json", metrics), pitch=pitch_path)


def plots(mastered: StageOutput, measured: StageOutput, generated: StageOutput, song: SongSpec, song_dir: Path) -> StageOutput:
    """waveform.png (waveform over spectrogram) and pitch.png (sung vs written vocal line)."""
    import json

    from .report.plots import pitch_contour_png, waveform_spectrogram_png

    audio, rate = read_audio(mastered.path("master"))
    take = json.loads(generated.path("take").read_text())
    sections = [(s["start_s"], s["tag"]) for s in take.get("sections", [])]
    waveform = waveform_spectrogram_png(audio, rate, song_dir / "waveform.png", song.title, sections=sections)
    contour = np.load(measured.path("pitch"))
    notes = [tuple(n[:3]) for n in take.get("vocal_notes", [])] or None
    pitch = pitch_contour_png(contour["times_s"], contour["midi"], song_dir / "pitch.png", song.title, notes=notes)
    return output("plots", waveform=waveform, pitch=pitch)


def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def album_report(album, songs: list[dict], album_dir: Path) -> StageOutput:
    """metrics.csv (a row per song) and report.html (players, pictures, metrics vs targets)."""
    import pandas as pd

    from .report.html import album_report_html

    rows = [{"song": spec.title, **results["measure"].data} for spec, results in zip(album.songs, songs)]
    csv = album_dir / "metrics.csv"
    write_text(csv, pd.DataFrame(rows).to_csv(index=False))
    targets = {"lufs": ("≈±0.5", album.master.target_lufs), "true_peak_dbtp": ("≤", album.master.true_peak_dbtp),
               "tempo_acc1": ("=", 1), "key_score": ("≥", 0.5)}
    if album.master.reference is not None:
        del targets["lufs"]
    reports = [_song_report(spec, results, album_dir, targets) for spec, results in zip(album.songs, songs)]
    html = album_report_html(album.title, reports, album_dir / "report.html")
    return output("album-report", html=html, csv=csv)


def _song_report(song: SongSpec, results: dict, album_dir: Path, targets: dict):
    from .report.html import SongReport

    def rel(stage: str, role: str) -> str:
        return results[stage].path(role).relative_to(album_dir).as_posix()

    return SongReport(
        title=song.title, folder=results["master"].path("master").parent.relative_to(album_dir).as_posix(),
        audio={"master (mp3)": rel("master", "preview"), "vocals": rel("generate", "vocals"),
               "instrumental": rel("generate", "instrumental")},
        lyrics=song.sections.text, images=[rel("plots", "waveform"), rel("plots", "pitch")],
        metrics=results["measure"].data, targets=targets,
    )
