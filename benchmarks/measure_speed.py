"""Speed and memory of `songforge measure SONG --vocals VOCALS --take take.json` (the signal metrics and the
failure flags) on a 3-minute song, against the base commit's CLI (`measure SONG --vocals VOCALS`: no flags then)
measured in the same run; then the CPU cost of each neural judge whose model is pulled (a script, not a test).

    .venv/bin/python benchmarks/measure_speed.py                  # 180 s sketch song; baseline = commit 1c9f1fa
    .venv/bin/python benchmarks/measure_speed.py --baseline HEAD~3 --seconds 60

The song is the demo album's first song on the sketch engine, its lyrics sung four times over 180 s (about
110 s of it sung). Each CLI runs as a subprocess; its CPU time (user + system) and peak RSS come from
os.wait4, start-up (imports, model load) included. The baseline runs from a temporary `git worktree` of the
base commit with PYTHONPATH pointing at it. Memory is the peak above the process's own baseline: the peak RSS
of the same CLI measuring a 1-second file (imports and the pitch model loaded, no song). Targets (issue 13,
2 cores): at most 15 s of CPU time, and a peak at most 4x the decoded audio (mix and vocals, float32).

The neural judges (CLAP, Audiobox Aesthetics, MuQ-MuLan, SongEval, the ASR of intelligibility) run on the GPU slot
when a GPU is present; their CPU cost is reported apart: each judge whose model folder is pulled loads on CPU and
scores the same song in its own subprocess (start-up and loading included, then the scoring alone). A judge not
pulled is listed as not measured, with the pull command: a tiny random model's timing is never shown for it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASE_COMMIT = "1c9f1fa"
CPU_TARGET_S = 15.0
MEMORY_TARGET_X = 4.0  # peak above the baseline, in decoded audio sizes


def render_song(folder: Path, seconds: float) -> tuple[Path, Path, Path, int]:
    """mix.wav, stems/vocals.wav (float32 stereo) and take.json of a `seconds`-long sketch song, as the engine
    writes them; returns them and the decoded bytes (mix and vocals)."""
    from songforge.album_file import load_album
    from songforge.audio.io import write_wav
    from songforge.engine.base import take_identity
    from songforge.engine.take import write_take
    from songforge.params import SongSpec

    base = load_album(ROOT / "params" / "albums" / "demo.yaml").songs[0]
    lyrics = base.lyrics.replace("[outro]", "").strip() + "\n\n"
    song = SongSpec.model_validate({**base.model_dump(), "lyrics": lyrics * 4 + "[outro]\n", "duration_s": seconds})
    stems = song.engine.engine.generate(song, song.engine.params, song.seed)
    write_take(stems, folder, take_identity(song), song.seed)
    mix = folder / "mix.wav"
    write_wav(mix, stems.vocals + stems.instrumental, stems.sample_rate, "FLOAT")
    return mix, folder / "stems" / "vocals.wav", folder / "take.json", 2 * stems.vocals.astype(np.float32).nbytes


def run_cli(tree: Path, *args: str) -> dict:
    """`python -m app.cli measure ARGS --json` from `tree`: CPU seconds, wall seconds, peak RSS (bytes), metrics."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "app.cli", "measure", *args, "--json"], cwd=tree, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if child.returncode != 0:
        raise SystemExit(f"{tree}: songforge measure {' '.join(args)} exited {child.returncode}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - start,
            "peak_bytes": usage.ru_maxrss * 1024, "metrics": json.loads(output)}


def measure_tree(tree: Path, mix: Path, vocals: Path, tiny: Path, *extra: str) -> dict:
    """The song measured by the CLI of `tree` (with `extra` options), with the peak above that CLI's own
    1-second baseline."""
    baseline = run_cli(tree, str(tiny), "--vocals", str(tiny))
    song = run_cli(tree, str(mix), "--vocals", str(vocals), *extra)
    return {**song, "baseline_bytes": baseline["peak_bytes"], "above_bytes": song["peak_bytes"] - baseline["peak_bytes"]}


def base_worktree(commit: str, folder: Path) -> Path:
    """A detached worktree of `commit` under `folder` (removed by the caller)."""
    tree = folder / f"base-{commit}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), commit], check=True)
    return tree


def print_table(rows: list[tuple[str, float, float, str]]) -> None:
    """| measurement | baseline | songforge | gain | unit | rows, as benchmarks/RESULTS.md shows them."""
    print("| measurement                         |   baseline |  songforge |   gain | unit |")
    print("|-------------------------------------|------------|------------|--------|------|")
    for name, base, ours, unit in rows:
        print(f"| {name:<35} | {base:10.2f} | {ours:10.2f} | {base / max(ours, 1e-9):5.1f}x | {unit} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180)")
    parser.add_argument("--baseline", default=BASE_COMMIT, help=f"commit measured as today's way ({BASE_COMMIT})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="measure-speed-") as scratch:
        folder = Path(scratch)
        mix, vocals, take, decoded = render_song(folder, args.seconds)
        tiny = folder / "one_second.wav"
        from songforge.audio.io import write_wav

        write_wav(tiny, 0.1 * np.random.default_rng(0).standard_normal((44_100, 2)).astype(np.float32), 44_100,
                  "FLOAT")
        tree = base_worktree(args.baseline, folder)
        try:
            base = measure_tree(tree, mix, vocals, tiny)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        ours = measure_tree(ROOT, mix, vocals, tiny, "--take", str(take))
        report(base, ours, decoded, args)
        report_judges(mix, vocals)


def report(base: dict, ours: dict, decoded: int, args: argparse.Namespace) -> None:
    mib = 1024 * 1024
    print(f"song: {args.seconds:.0f} s sketch song, mix + vocals decoded {decoded / mib:.0f} MiB; "
          f"baseline: {args.baseline}; {os.cpu_count()} CPUs")
    print_table([
        ("CPU time (user + system)", base["cpu_s"], ours["cpu_s"], "s"),
        ("wall time", base["wall_s"], ours["wall_s"], "s"),
        ("peak RSS", base["peak_bytes"] / mib, ours["peak_bytes"] / mib, "MiB"),
        ("peak above the CLI's baseline", base["above_bytes"] / mib, ours["above_bytes"] / mib, "MiB"),
        ("  in decoded audio sizes", base["above_bytes"] / decoded, ours["above_bytes"] / decoded, "x"),
    ])
    differ = {k: (base["metrics"][k], ours["metrics"].get(k)) for k in base["metrics"]
              if not _same(base["metrics"][k], ours["metrics"].get(k))}
    print(f"metrics that differ from the baseline (beyond 1e-6): {differ or 'none'}")
    flags = ours["metrics"].get("flags", [])
    print(f"failure flags (not in the baseline): {ours['metrics'].get('failed')} raised of {len(flags)}; "
          + ", ".join(f"{f['name']} {'RAISED' if f['raised'] else 'no'}"
                      + (" (not checked)" if "skipped" in f["evidence"] else "") for f in flags))
    cpu_ok, memory_ok = ours["cpu_s"] <= CPU_TARGET_S, ours["above_bytes"] <= MEMORY_TARGET_X * decoded
    print(f"{'PASS' if cpu_ok else 'FAIL'}: CPU time {ours['cpu_s']:.1f} s (target <= {CPU_TARGET_S:.0f} s)")
    print(f"{'PASS' if memory_ok else 'FAIL'}: peak above baseline {ours['above_bytes'] / decoded:.1f}x the decoded "
          f"audio (target <= {MEMORY_TARGET_X:.0f}x)")


def _same(a: object, b: object) -> bool:
    """Equal, or floats within 1e-6 (float32 vs float64 sums move LUFS and LRA by 1e-7)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a))
    return a == b


def report_judges(mix: Path, vocals: Path) -> None:
    """CPU cost of each neural judge on the same song, in a subprocess each, or why it was not measured."""
    sys.path.insert(0, str(Path(__file__).parent))  # run as a script: its sibling module
    from judges_cpu import JUDGES, pulled, time_judge

    print("\nneural judges on CPU (on a GPU host they run in the GPU slot; start-up and loading included):")
    print("| judge        | model                  | CPU, whole process | CPU, scoring | wall   |")
    print("|--------------|------------------------|--------------------|--------------|--------|")
    for judge in JUDGES:
        missing = [name for name in judge.models if not pulled(name)]
        if missing:
            print(f"| {judge.name:<12} | {judge.models[0]:<22} | not measured: model {', '.join(missing)} not pulled "
                  f"(songforge models pull {' '.join(missing)}) |")
            continue
        timing = time_judge(judge, mix, vocals)
        print(f"| {judge.name:<12} | {judge.models[0]:<22} | {timing['cpu_s']:16.1f} s | {timing['score_cpu_s']:10.1f} s "
              f"| {timing['wall_s']:4.1f} s |")


if __name__ == "__main__":
    main()
