"""Writes are atomic and repeatable: a killed writer's temp files are cleared by the next write; same audio, same bytes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from songforge.audio.io import read_audio, write_wav
from songforge.paths import atomic_path, remove_stale_temps, write_text

ROOT = Path(__file__).resolve().parents[1]
KILLED_WRITER = """
import sys, time
from pathlib import Path
from songforge.paths import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half a file")
    print(tmp, flush=True)
    time.sleep(600)
"""


def test_the_next_write_removes_the_temp_file_a_killed_writer_left(tmp_path):
    target = tmp_path / "stems" / "vocals.wav"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    left = Path(writer.stdout.readline().strip())
    assert left.is_file() and left.parent == target.parent
    assert remove_stale_temps(target) == []  # its writer is alive: a write in progress is left alone
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert left.is_file() and not target.exists()  # killed: no half-written target, only the temp

    write_wav(target, np.zeros((100, 2), np.float32), 44100, "FLOAT")  # the stage's next run
    assert not left.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["vocals.wav"]


def test_a_live_writers_temp_file_survives_another_write_of_the_same_file(tmp_path):
    target = tmp_path / "mix.txt"
    with atomic_path(target) as in_progress:
        in_progress.write_text("mine")
        write_text(target, "other")  # same process, alive: its temp is not stale
        assert in_progress.is_file()
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["mix.txt"]


def test_the_same_audio_gives_the_same_bytes(tmp_path):
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (4410, 2)).astype(np.float32)
    for subtype in ("FLOAT", "PCM_24"):
        first = write_wav(tmp_path / f"a-{subtype}.wav", audio, 44100, subtype).read_bytes()
        time.sleep(1.1)  # libsndfile's PEAK chunk stamps the second it was written
        second = write_wav(tmp_path / f"b-{subtype}.wav", audio, 44100, subtype).read_bytes()
        assert first == second, subtype
    decoded, rate = read_audio(tmp_path / "a-FLOAT.wav")
    assert rate == 44100 and np.array_equal(decoded, audio)
