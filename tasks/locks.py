"""Stage locks for Prefect's SERIALIZABLE cache isolation: one lock file per cache key, held on a renewed lease.

Two runs that reach the same stage with the same inputs (two album commands on one `--out`, two
hosts retrying one song) must compute it once: the first takes the key's lock, the second waits,
then finds the first one's result in the store. Prefect asks for a lock with no time limit, so a
run killed while holding one would block every later run for good; here a lock is a lease
(`SONGFORGE_STAGE_LOCK_LEASE_S`, default 60 s) that a thread of the holder's process renews, and a
lock whose lease ran out is free. The lock files live beside the result store when it is a local
folder (so hosts sharing it over NFS share the locks), in `SONGFORGE_STAGE_LOCKS` if set, else in
PREFECT_HOME; an object store (S3) needs a shared SONGFORGE_STAGE_LOCKS folder or Prefect's Redis
lock manager.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Optional

LEASE_ENV = "SONGFORGE_STAGE_LOCK_LEASE_S"
DIR_ENV = "SONGFORGE_STAGE_LOCKS"
POLL_S = 0.2


def lease_s() -> float:
    return float(os.environ.get(LEASE_ENV) or 60)


def lock_folder() -> Path:
    """Where stage locks live: SONGFORGE_STAGE_LOCKS, beside a local result store, or in PREFECT_HOME."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    from prefect.filesystems import LocalFileSystem
    from prefect.results import get_default_result_storage
    from prefect.settings import PREFECT_HOME

    storage = get_default_result_storage(_sync=True)
    if isinstance(storage, LocalFileSystem) and storage.basepath:
        return Path(storage.basepath).expanduser() / ".songforge-locks"
    return Path(PREFECT_HOME.value()) / "songforge-locks"


class StageLocks:
    """Prefect's LockManager protocol over lock files with leases (see the module docstring)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, Path]] = {}  # key -> (holder, lock file), renewed until released
        self._guard = threading.Lock()
        self._renewer: threading.Thread | None = None

    def acquire_lock(self, key: str, holder: str, acquire_timeout: Optional[float] = None,
                     hold_timeout: Optional[float] = None) -> bool:
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        while not self._try_take(key, holder):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    async def aacquire_lock(self, key: str, holder: str, acquire_timeout: Optional[float] = None,
                            hold_timeout: Optional[float] = None) -> bool:
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        while not self._try_take(key, holder):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    def release_lock(self, key: str, holder: str) -> None:
        with self._guard:
            if self._held.get(key, ("",))[0] != holder:
                raise ValueError(f"No lock held by {holder} for transaction with key {key}")
            _, path = self._held.pop(key)
            path.unlink(missing_ok=True)

    def is_locked(self, key: str) -> bool:
        return _live_holder(self._path(key)) is not None

    def is_lock_holder(self, key: str, holder: str) -> bool:
        return _live_holder(self._path(key)) == holder

    def holder_in_this_process(self, key: str) -> str | None:
        """Who in this process holds `key`'s lock (a transaction's private holder id), or None."""
        with self._guard:
            return self._held.get(key, (None,))[0]

    def wait_for_lock(self, key: str, timeout: Optional[float] = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_locked(key):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    async def await_for_lock(self, key: str, timeout: Optional[float] = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_locked(key):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    def _path(self, key: str) -> Path:
        return lock_folder() / f"{key}.lock"

    def _try_take(self, key: str, holder: str) -> bool:
        """Create the key's lock file for `holder` if no live lease holds it (atomically: link, never overwrite)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if _live_holder(path) is None:
            path.unlink(missing_ok=True)  # an expired lease (its holder died), or none
        with self._guard:
            if _write_new(path, holder):
                self._held[key] = (holder, path)
                self._start_renewing()
                return True
        return _live_holder(path) == holder

    def _start_renewing(self) -> None:
        if self._renewer is None or not self._renewer.is_alive():
            self._renewer = threading.Thread(target=self._renew_forever, name="songforge-stage-locks", daemon=True)
            self._renewer.start()

    def _renew_forever(self) -> None:
        while True:
            time.sleep(lease_s() / 4)
            with self._guard:
                for holder, path in self._held.values():
                    _write(path, holder)


def _live_holder(path: Path) -> str | None:
    """Who holds the lease at `path`, or None if nobody does or it expired (junk counts as expired)."""
    try:
        lease = json.loads(path.read_text())
        return str(lease["holder"]) if float(lease["expires"]) > time.time() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _lease(holder: str) -> str:
    return json.dumps({"holder": holder, "expires": time.time() + lease_s(), "pid": os.getpid()})


def _write_new(path: Path, holder: str) -> bool:
    """Write a lease at `path` only if no file is there (os.link is atomic, on NFS too)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(_lease(holder))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _write(path: Path, holder: str) -> None:
    """Renew a held lease in place (atomic replace)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(_lease(holder))
    os.replace(tmp, path)


STAGE_LOCKS = StageLocks()
