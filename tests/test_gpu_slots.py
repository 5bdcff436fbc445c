"""A host's GPU slots hold across processes: two songforge commands on one GPU never load models at once."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import json, sys, time
from tasks.gpu import engine_slot
with engine_slot(loads_models=True):
    start = time.time()
    time.sleep(1.5)
    print(json.dumps([start, time.time()]), flush=True)
"""


def _spans(tmp_path: Path, slots: int, processes: int = 2) -> list[tuple[float, float]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SONGFORGE_GPU_SLOTS": str(slots),
           "SONGFORGE_GPU_LOCKS": str(tmp_path / "gpu-locks"), "SONGFORGE_GPU_GUARD": "off"}
    runs = [subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)]
    return sorted(tuple(json.loads(run.communicate(timeout=120)[0])) for run in runs)


def test_two_processes_never_hold_the_one_slot_at_once(tmp_path):
    (first_start, first_end), (second_start, _) = _spans(tmp_path, slots=1)
    assert second_start >= first_end - 0.01  # one waited for the other


def test_two_slots_let_two_processes_run_together(tmp_path):
    (_, first_end), (second_start, _) = _spans(tmp_path, slots=2)
    assert second_start < first_end  # the lock is per slot, not one big lock


@pytest.mark.timeout(60)
def test_a_killed_holder_frees_its_slot(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SONGFORGE_GPU_SLOTS": "1",
           "SONGFORGE_GPU_LOCKS": str(tmp_path / "gpu-locks"), "SONGFORGE_GPU_GUARD": "off"}
    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom tasks.gpu import host_slot\n"
                               "with host_slot():\n    print('held', flush=True)\n    time.sleep(600)"],
                              env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    from tasks import gpu

    with pytest.MonkeyPatch.context() as patch:
        for key in ("SONGFORGE_GPU_SLOTS", "SONGFORGE_GPU_LOCKS"):
            patch.setenv(key, env[key])
        with gpu.host_slot() as slot:
            assert slot == 0
