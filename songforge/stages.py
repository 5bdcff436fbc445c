"""The song pipeline's stages as plain functions: files in, files out, a StageOutput back.

Each stage reads its inputs from upstream StageOutputs, calls the pure audio code, and
writes its files atomically into the song's folder. Orchestration (caching, retries,
tracking) wraps these in tasks/; nothing here knows about it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from .artifacts import StageOutput, output
from .audio.io import read_audio, write_mp3, write_wav
from .engine.base import Progress
from .errors import SongforgeError
from .paths import atomic_path, write_bytes, write_json, write_text
from .params import MasterSpec, MeasureSpec, MixSpec, SongSpec

# Bump a stage's version whenever its output for the same inputs changes: it is part of
# every cache key, so old results are not reused after such a change.
STAGE_VERSIONS = {"lyrics": "1", "generate": "2", "mix": "1", "master": "1", "measure": "1", "plots": "2",
                  "album-report": "1", "yue-stage1": "1", "yue-stage1-batch": "1",
                  "yue-stage2": "1", "yue-decode": "1",
                  "sweep-comparison": "1"}


def write_lyrics(song: SongSpec, song_dir: Path) -> StageOutput:
    """lyrics.txt in YuE's section format, and style.txt with the tag line."""
    lyrics = write_text(song_dir / "lyrics.txt", song.sections.text)
    style = write_text(song_dir / "style.txt", song.style + "\n")
    return output("lyrics", lyrics=lyrics, style=style)


def generate(song: SongSpec, song_dir: Path, progress: Progress | None = None) -> StageOutput:
    """Run the song's engine: vocals.wav and instrumental.wav (float32), take.json, and arrangement.mid if known."""
    engine, params = song.engine.resolve()
    stems = engine.generate(song, params, song.seed, progress=progress)
    return _write_stems(stems, song_dir, engine.identity(params), song.seed)


def _write_stems(stems, song_dir: Path, identity: str, seed: int) -> StageOutput:
    files = {
        "vocals": write_wav(song_dir / "stems" / "vocals.wav", stems.vocals, stems.sample_rate, "FLOAT"),
        "instrumental": write_wav(song_dir / "stems" / "instrumental.wav", stems.instrumental, stems.sample_rate, "FLOAT"),
        "take": write_json(song_dir / "take.json", {"engine": identity, "seed": seed,
                                                     "duration_s": stems.duration_s, **stems.metadata}),
    }
    if stems.mix is not None:
        files["engine_mix"] = write_wav(song_dir / "stems" / "engine_mix.wav", stems.mix, stems.sample_rate, "FLOAT")
    if stems.midi is not None:
        files["arrangement"] = write_bytes(song_dir / "arrangement.mid", stems.midi)
    return output("generate", {"engine": identity, "duration_s": stems.duration_s}, **files)


# YuE as three cached steps: each is keyed on its own params slice and its model's identity, so a
# stage-2 or decode change reuses the stage-1 codes. Codes are saved in the official .npy layout.
# Stage 1 can also run for many takes at once (yue_stage1_batch), each take landing in its own folder.

class YuETake(BaseModel):
    """One song (or one seed of it) in a stage-1 batch, and the folder its codes go to."""

    model_config = ConfigDict(frozen=True)

    style: str
    lyrics: str
    seed: int
    song_dir: Path


def yue_stage1(style: str, lyrics: str, params, seed: int, model_identity: str, song_dir: Path,
               progress: Progress | None = None) -> StageOutput:
    """stage1/<song>_vtrack.npy and _itrack.npy: codebook-0 codes (1, T), uint32 (a batch of one)."""
    take = YuETake(style=style, lyrics=lyrics, seed=seed, song_dir=song_dir)
    return yue_stage1_batch([take], params, model_identity, progress)[0]


def yue_stage1_batch(takes: list[YuETake], params, model_identity: str,
                     progress: Progress | None = None) -> list[StageOutput]:
    """Stage 1 of several takes decoded together; a take whose folder already holds its codes is skipped.

    Each take's folder gets a record of what made its codes (stage1/record.json, written last), so a
    take finished by a batch, even one killed before it ended, is found by the next batch or by the
    take's own step, and only the takes that changed are decoded again.
    """
    from .engine.yue.engine import Take, stage1_takes
    from .engine.yue.tokens import save_codes

    keys = [_stage1_key(take, params, model_identity) for take in takes]
    outputs = [_recorded_stage1(take, key, model_identity) for take, key in zip(takes, keys)]
    todo = [i for i, found in enumerate(outputs) if found is None]

    def save(n: int, codes: tuple[np.ndarray, np.ndarray]) -> None:
        i, (vocal, instrumental) = todo[n], codes
        folder, name = _stage1_folder(takes[i]), takes[i].song_dir.name
        outputs[i] = output("yue-stage1", {"frames": int(vocal.shape[1]), "model": model_identity},
                            vtrack=save_codes(folder / f"{name}_vtrack.npy", vocal),
                            itrack=save_codes(folder / f"{name}_itrack.npy", instrumental))
        write_json(folder / "record.json", {"key": keys[i], "files": outputs[i].fingerprint()})

    if todo:
        stage1_takes([Take(takes[i].style, takes[i].lyrics, takes[i].seed) for i in todo], params, progress, save)
    return outputs


def _stage1_folder(take: YuETake) -> Path:
    return take.song_dir / "yue" / "stage1"


def _stage1_key(take: YuETake, params, model_identity: str) -> str:
    """What a take's stage-1 codes depend on (not its folder, nor how it was batched)."""
    facts = [STAGE_VERSIONS["yue-stage1"], take.style, take.lyrics, take.seed, params.model_dump(mode="json"),
             model_identity]
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def finished_stage1(take: YuETake, params, model_identity: str) -> StageOutput | None:
    """The take's stage-1 codes if an earlier run or batch left them in its folder for these inputs."""
    return _recorded_stage1(take, _stage1_key(take, params, model_identity), model_identity)


def _recorded_stage1(take: YuETake, key: str, model_identity: str) -> StageOutput | None:
    """The take's codes if its folder holds them for this key, unchanged since they were recorded."""
    from .engine.yue.tokens import load_codes

    folder, name = _stage1_folder(take), take.song_dir.name
    try:
        record = json.loads((folder / "record.json").read_text())
        if record.get("key") != key:
            return None
        found = output("yue-stage1", {"frames": int(load_codes(folder / f"{name}_vtrack.npy").shape[1]),
                                      "model": model_identity},
                       vtrack=folder / f"{name}_vtrack.npy", itrack=folder / f"{name}_itrack.npy")
    except (OSError, ValueError, SongforgeError):
        return None
    return found if found.fingerprint() == record.get("files") else None


def yue_stage2(stage1: StageOutput, params, model_identity: str, song_dir: Path,
               progress: Progress | None = None) -> StageOutput:
    """stage2/<song>_vtrack.npy and _itrack.npy: all 8 codebooks (8, T), uint32."""
    from .engine.yue.engine import stage2
    from .engine.yue.tokens import load_codes, save_codes

    vocal, instrumental = stage2(load_codes(stage1.path("vtrack")), load_codes(stage1.path("itrack")), params,
                                 progress)
    folder, official = song_dir / "yue" / "stage2", params.compat == "official"  # official may leave invalid codes
    return output("yue-stage2", {"frames": int(vocal.shape[1]), "model": model_identity},
                  vtrack=save_codes(folder / f"{song_dir.name}_vtrack.npy", vocal, allow_invalid=official),
                  itrack=save_codes(folder / f"{song_dir.name}_itrack.npy", instrumental, allow_invalid=official))


def yue_decode(stage2: StageOutput, params, codec_identity: str, take: dict, song_dir: Path) -> StageOutput:
    """The stems, as `generate` writes them: X-Codec decode, Vocos upsampling, low band fused."""
    from .engine.yue.engine import decode
    from .engine.yue.tokens import load_codes

    stems = decode(load_codes(stage2.path("vtrack")), load_codes(stage2.path("itrack")), params)
    stems.metadata.update(take)
    return _write_stems(stems, song_dir, take.get("identity", codec_identity), take.get("seed", 0))


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
    """metrics.csv (a row per song), metrics.json (for DVC) and report.html (players, pictures, metrics vs targets)."""
    from .report.html import album_report_html

    targets = {"lufs": ("≈±0.5", album.master.target_lufs), "true_peak_dbtp": ("≤", album.master.true_peak_dbtp),
               "tempo_acc1": ("=", 1), "key_score": ("≥", 0.5)}
    if album.master.reference is not None:
        del targets["lufs"]
    csv, metrics = _write_metrics(album, songs, album_dir, targets)
    reports = [_song_report(spec, results, album_dir, targets) for spec, results in zip(album.songs, songs)]
    for rejected in album.rejected:  # songs whose lyrics did not load: failed, in their place in the album
        reports.insert(rejected.index, _rejected_report(rejected))
    html = album_report_html(album.title, reports, album_dir / "report.html")
    return output("album-report", html=html, csv=csv, metrics=metrics)


def _write_metrics(album, songs: list[dict], album_dir: Path, targets: dict) -> tuple[Path, Path]:
    """metrics.csv (a row per song, plus tempo_error_pct) and metrics.json (album means, per-song numbers)."""
    from .report.album_metrics import album_metrics, song_numbers, tempo_error_pct
    from .report.safe_text import csv_text

    rows, numbers = [], {}
    for spec, results in zip(album.songs, songs):
        if "measure" not in results:  # a failed song: its reason in the table, no numbers
            rows.append({"song": spec.title, "error": results.get("error")})
            continue
        data = results["measure"].data
        row = {**data, "tempo_error_pct": tempo_error_pct(data.get("tempo_bpm"), spec.bpm)}
        rows.append({"song": spec.title, **row})
        numbers[results["master"].path("master").parent.name] = song_numbers(row)
    rows += [{"song": rejected.title, "error": rejected.reason} for rejected in album.rejected]
    csv = write_text(album_dir / "metrics.csv", csv_text(rows))
    return csv, write_json(album_dir / "metrics.json", album_metrics(numbers, targets))


def _rejected_report(rejected):
    """A song rejected for its lyrics: a failed card with the reason, nothing to play."""
    from .paths import slugify
    from .report.html import SongReport

    return SongReport(title=rejected.title, folder=slugify(rejected.title), error=rejected.reason)


def _song_report(song: SongSpec, results: dict, album_dir: Path, targets: dict):
    """What the review page shows of one song: whatever stages it finished, and its `error` if it failed."""
    import os

    from .report.html import SongReport

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, album_dir)).as_posix()

    def files(*wanted: tuple[str, str, str]) -> dict[str, str]:
        """label -> path of each (label, stage, role) the song's results hold."""
        return {label: rel(results[stage].path(role)) for label, stage, role in wanted
                if isinstance(results.get(stage), StageOutput) and role in results[stage].files}

    audio = files(("master", "master", "preview"), ("vocals", "generate", "vocals"),
                  ("instrumental", "generate", "instrumental"), ("engine mix", "generate", "engine_mix"))
    images = list(files(("waveform", "plots", "waveform"), ("pitch", "plots", "pitch")).values())
    folder = next(iter(files(("", "lyrics", "lyrics"), ("", "master", "master")).values()), None)
    if folder:
        folder = Path(folder).parent.as_posix()
    else:  # a song that failed before writing anything: the folder it was given (a song run elsewhere names it)
        folder = rel(Path(results["folder"])) if results.get("folder") else song.slug
    take = files(("take", "generate", "take")).get("take")
    measured = results.get("measure")
    error = results.get("error")
    return SongReport(
        title=song.title, folder=folder, audio=audio, lyrics=song.sections.text, images=images,
        metrics=measured.data if isinstance(measured, StageOutput) else {}, targets=targets,
        sections=_take_sections(album_dir / take) if take else [],
        error=None if error is None else str(error),
        subtitle=f"{song.musical_key.name} · {song.bpm:g} BPM · {song.style} · seed {song.seed} · {song.engine.name} engine",
    )


def _take_sections(take_json: Path) -> list[tuple[float, str]]:
    """[(start_s, tag), ...] of the sections an engine recorded in take.json (none if it recorded none)."""
    sections = json.loads(take_json.read_text()).get("sections", [])
    return [(float(s["start_s"]), str(s["tag"])) for s in sections if isinstance(s, dict) and {"start_s", "tag"} <= s.keys()]
