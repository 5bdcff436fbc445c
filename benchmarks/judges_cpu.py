"""The neural judges' CPU cost for benchmarks/measure_speed.py: each judge whose model folder is pulled loads on CPU
and scores a song in its own subprocess; os.wait4 gives the whole process's CPU time, the child the scoring's own.

A judge is measured only on its real, pulled model: nothing here substitutes a tiny random model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STYLE = "pop, warm female vocal, piano, acoustic guitar"


@dataclass(frozen=True)
class Judge:
    """A judge, the catalogue models it needs (the first is shown), and the child's code: it defines `load()`
    and `score(model)`, reading the song as `audio, rate` and the vocal stem as `vocals, vocals_rate`."""

    name: str
    models: tuple[str, ...]
    code: str


JUDGES = (
    Judge("clap", ("larger-clap-music",), "from songforge.judge.clap import NAME, clap_score, load_clap\n"
          "load = lambda: load_clap(NAME, 'cpu')\nscore = lambda m: clap_score(m, audio, rate, STYLE)"),
    Judge("aesthetics", ("audiobox-aesthetics",), "from songforge.judge.aesthetics import NAME, aesthetics_scores, "
          "load_aesthetics\nload = lambda: load_aesthetics(NAME, 'cpu')\nscore = lambda m: aesthetics_scores(m, audio, rate)"),
    Judge("mulan", ("muq-mulan",), "from songforge.judge.mulan import NAME, load_mulan, mulan_score\n"
          "load = lambda: load_mulan(NAME, 'cpu')\nscore = lambda m: mulan_score(m, audio, rate, STYLE)"),
    Judge("songeval", ("songeval", "muq-large"), "from songforge.judge.songeval import load_songeval, songeval_scores\n"
          "load = lambda: load_songeval(device='cpu')\nscore = lambda m: songeval_scores(m, audio, rate)"),
    Judge("asr", ("whisper-large-v3",), "from contextlib import ExitStack\n"
          "from songforge.audio.io import resample, to_mono\nfrom songforge.judge.asr import SAMPLE_RATE, WHISPER, loaded_asr\n"
          "load = lambda: ExitStack().enter_context(loaded_asr(WHISPER, 'cpu'))\n"
          "score = lambda t: t(resample(to_mono(vocals)[:, None], vocals_rate, SAMPLE_RATE)[:, 0], 'en')"),
)

CHILD = """
import json, sys, time
from songforge.audio.io import read_audio
STYLE = {style!r}
audio, rate = read_audio(sys.argv[1])
vocals, vocals_rate = read_audio(sys.argv[2])
{code}
model = load()
start = time.process_time()
score(model)
print(json.dumps({{"score_cpu_s": time.process_time() - start}}))
"""


def pulled(name: str) -> bool:
    """The catalogue model's folder is in the models folder with its pull's files."""
    from songforge.catalogue import model_folder
    from songforge.models import missing_recorded

    folder = model_folder(name)
    return folder.is_dir() and not missing_recorded(folder) and any(folder.iterdir())


def time_judge(judge: Judge, mix: Path, vocals: Path) -> dict:
    """CPU seconds of the whole child (start-up, loading, scoring), of the scoring alone, and wall seconds."""
    code = CHILD.format(style=STYLE, code=judge.code.replace("\\\n", "\n"))
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, str(mix), str(vocals)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""},
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"judge {judge.name}: the timing child exited {child.returncode}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - start,
            **json.loads(output.strip().splitlines()[-1])}
