"""This host's engine slots: a strict Prefect global concurrency limit named `gpu-<host>`.

Every engine stage (generate, YuE's steps) holds one slot while it runs, so the flow runs a
host's worker starts never load more models at once than it has GPUs. The guard is on in
flow runs from a deployment (a worker's, always against a real Prefect server) and
wherever SONGFORGE_GPU_GUARD=on; in-process runs (the CLI's temporary API, tests) leave it
off by default, because their server keeps slot leases in memory without expiring them:
a killed run would hold its slots for good and the resumed run would wait forever.
There, steps that load models onto the device take a host slot instead: a lock file that
every songforge process on the host shares and the kernel frees when its holder dies, so
two songs' steps (of one command or of two) never hold two copies of a 7B model on one GPU.
"""

from __future__ import annotations

import fcntl
import gc
import os
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from songforge.errors import SongforgeError

HOST_ENV = "SONGFORGE_HOST"  # the host's name for its limit; tests give each worker its own
SLOTS_ENV = "SONGFORGE_GPU_SLOTS"  # override the slot count (default: CUDA devices, at least 1)
GUARD_ENV = "SONGFORGE_GPU_GUARD"  # auto (default) | on | off
LOCKS_ENV = "SONGFORGE_GPU_LOCKS"  # the folder of this host's slot lock files
LEASE_S = 120  # a killed holder's slot returns this long after its last lease renewal


def host_name() -> str:
    return os.environ.get(HOST_ENV) or socket.gethostname()


def limit_name(host: str | None = None) -> str:
    """`gpu-<host>`, in the characters Prefect allows in a limit's name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in (host or host_name()))
    return f"gpu-{safe}"


def gpu_slots() -> int:
    """How many engine stages may run at once here: SONGFORGE_GPU_SLOTS, else the CUDA devices, at least 1."""
    if os.environ.get(SLOTS_ENV):
        try:
            return max(1, int(os.environ[SLOTS_ENV]))
        except ValueError:
            raise SongforgeError(f"{SLOTS_ENV}={os.environ[SLOTS_ENV]!r} is not a whole number. "
                                 f"Fix: set it to the number of GPUs on this host, e.g. {SLOTS_ENV}=2.") from None
    import torch

    return max(1, torch.cuda.device_count() if torch.cuda.is_available() else 0)


def ensure_limit(name: str | None = None, slots: int | None = None, resize: bool = False) -> int:
    """Create the limit if it is missing (resize: set its size even if it exists); its size back."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name, slots = name or limit_name(), slots or gpu_slots()
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
                return slots
            except ObjectAlreadyExists:  # another stage created it meanwhile
                existing = client.read_global_concurrency_limit_by_name(name)
        if resize and existing.limit != slots:
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=slots))
            return slots
        return existing.limit


def guarded() -> bool:
    mode = os.environ.get(GUARD_ENV, "auto").lower()
    if mode not in ("auto", "on", "off"):
        raise SongforgeError(f"{GUARD_ENV}={mode!r} is not one of auto, on, off. Fix: unset it or use one of those.")
    if mode != "auto":
        return mode == "on"
    from prefect.runtime import deployment

    return deployment.id is not None


@contextmanager
def host_slot() -> Iterator[int]:
    """Hold one of this host's GPU slots (its number back) against every songforge process on the host.

    A slot is an exclusive lock on a file in SONGFORGE_GPU_LOCKS (default: the system's temp folder);
    the kernel releases it when its holder exits, however it exits, so a killed run frees its slot.
    """
    folder = Path(os.environ.get(LOCKS_ENV) or Path(tempfile.gettempdir()) / "songforge-gpu-slots")
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for slot in range(gpu_slots()):
            fd = os.open(folder / f"slot-{slot}.lock", os.O_RDONLY | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield slot
                return
            finally:
                os.close(fd)  # closing the file releases the lock
        if not waited:
            _log(f"waiting for a free GPU slot of this host ({gpu_slots()} in {folder})")
            waited = True
        time.sleep(0.5)


def _log(message: str) -> None:
    try:
        from prefect.logging import get_run_logger

        get_run_logger().info(message)
    except Exception:  # outside a run: nobody to tell
        pass


@contextmanager
def engine_slot(loads_models: bool = False) -> Iterator[None]:
    """Hold one of this host's engine slots (when guarded; unguarded, a host slot if the step loads
    models); on a failure, give the GPU's cached memory back."""
    try:
        if guarded():
            from prefect.concurrency.sync import concurrency

            name = limit_name()
            ensure_limit(name)
            with concurrency(name, occupy=1, strict=True, lease_duration=LEASE_S):
                yield
        elif loads_models:
            with host_slot():
                yield
        else:
            yield
    except BaseException:
        free_gpu_memory()
        raise


def free_gpu_memory() -> None:
    """Release what a failed engine left in CUDA's cache, if torch is loaded and has a GPU."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()
