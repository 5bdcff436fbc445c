"""Stem separation quality: the sketch demo album's true stems mixed, separated by each available model, and the SDR
of each estimate against the true stem, beside the mixture itself as the baseline (a script, not a test).

    .venv/bin/python benchmarks/separation.py                       # every separator model in the models folder
    .venv/bin/python benchmarks/separation.py --model bs-roformer-viperx-1297 --songs 1

SDR is the global signal-to-distortion ratio the UVR/MVSep figures use, 10·log10(Σs² / Σ(s-ŝ)²) in dB over
the whole song and both channels (the default model publishes 12.97 dB on vocals). The sketch album is
synthesised (GM SoundFont instruments and a formant voice), not a mastered record: its figures compare models
with each other, not with the published ones. With no separator weights on this host the script runs the
tiny random BS-Roformer of the tests instead, and says so: its figures measure nothing but the plumbing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from songforge.album_file import load_album
from songforge.models import models_dir
from songforge.separation.models import MODEL_LIST
from songforge.separation.separator import loaded, pick, separate

ROOT = Path(__file__).resolve().parents[1]
STEMS = ("vocals", "instrumental")


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10·log10(Σ reference² / Σ (reference - estimate)²), float64 over every sample and channel."""
    reference, estimate = reference.astype(np.float64), estimate.astype(np.float64)
    error = np.sum((reference - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference ** 2) / max(error, 1e-20)))


def true_stems(album_file: Path, songs: int) -> list[tuple[str, dict[str, np.ndarray], int]]:
    """(title, {'vocals', 'instrumental'}, rate) of the album's first `songs` songs, as its engine renders them."""
    album = load_album(album_file)
    found = []
    for song in album.songs[:songs]:
        stems = song.engine.engine.generate(song, song.engine.params, song.seed)
        found.append((song.title, {"vocals": stems.vocals, "instrumental": stems.instrumental}, stems.sample_rate))
    return found


def available_models() -> list[str]:
    """Every folder of the models folder that holds a separator model list (pulled, or of one's own)."""
    root = models_dir()
    return sorted(folder.name for folder in root.iterdir() if (folder / MODEL_LIST).is_file()) if root.is_dir() else []


def rows_of(model: str, songs: list, chunk_s: float) -> list[dict]:
    rows = []
    with loaded(model) as separator:
        for title, stems, rate in songs:
            mix = stems["vocals"] + stems["instrumental"]
            started = time.perf_counter()
            estimates = pick(separate(separator, mix, rate, chunk_s=chunk_s), STEMS, model)
            seconds = time.perf_counter() - started
            rows.append({"model": model, "song": title, "seconds": seconds, "audio_s": len(mix) / rate,
                         **{stem: sdr_db(stems[stem], estimates[stem]) for stem in STEMS}})
    return rows


def baseline_rows(songs: list) -> list[dict]:
    """The mixture given as each stem: what separation has to improve on."""
    return [{"model": "mixture (no separation)", "song": title, "seconds": 0.0, "audio_s": len(stems["vocals"]) / rate,
             **{stem: sdr_db(stems[stem], stems["vocals"] + stems["instrumental"]) for stem in STEMS}}
            for title, stems, rate in songs]


def print_table(rows: list[dict]) -> None:
    header = ["model", "song", "vocals SDR dB", "instrumental SDR dB", "x real time"]
    lines = [[row["model"], row["song"], f"{row['vocals']:.2f}", f"{row['instrumental']:.2f}",
              f"{row['audio_s'] / row['seconds']:.1f}" if row["seconds"] else "-"] for row in rows]
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        lines.append([model, "mean", f"{np.mean([r['vocals'] for r in mine]):.2f}",
                      f"{np.mean([r['instrumental'] for r in mine]):.2f}", ""])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    for line in [header, ["-" * width for width in widths], *lines]:
        print("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="a separator model (repeatable; default: all on disk)")
    parser.add_argument("--album", type=Path, default=ROOT / "params" / "albums" / "demo.yaml")
    parser.add_argument("--songs", type=int, default=3, help="how many of the album's songs")
    parser.add_argument("--chunk-s", type=float, default=300.0)
    args = parser.parse_args()
    import torch

    songs = true_stems(args.album, args.songs)
    models = args.model or available_models()
    print(f"device: {'cuda (' + torch.cuda.get_device_name() + ')' if torch.cuda.is_available() else 'cpu'}, "
          f"{len(songs)} songs of {args.album.name}, chunks of {args.chunk_s:g} s\n")
    with tempfile.TemporaryDirectory() as scratch:
        if not models:
            from songforge.separation.tiny import write_tiny_roformer

            models = [str(write_tiny_roformer(Path(scratch) / "tiny-random-bs-roformer"))]
            print(f"No separator weights in {models_dir()} (`songforge models pull bs-roformer-viperx-1297`): "
                  "running the TINY RANDOM BS-Roformer of the tests. Its SDRs measure the plumbing, not separation.\n")
        rows = baseline_rows(songs) + [row for model in models for row in rows_of(model, songs, args.chunk_s)]
    print_table([{**row, "model": Path(row["model"]).name} for row in rows])


if __name__ == "__main__":
    main()
