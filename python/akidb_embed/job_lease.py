"""The run lease of a corpus job's output folder: which run may commit files.

A Ray job's workers can outlive their driver (a driver killed with SIGKILL,
a lost head node): such an orphan goes on embedding the file it holds and
would rename it into place while a rerun on the same folder is planning or
writing. The lease fences them off. Each run takes the lease before it plans,
by writing a fresh token to DIR/_lease; an output file is committed (renamed
from its temporary name to its final one) only while the committing run's
token is still the one in DIR/_lease. So once a rerun has taken the lease, no
worker of an earlier run can add, replace or finish a file: every file the
rerun's plan counts as done stays as it was, and every other file is written
by the rerun alone (docs/scale-out.md, "Resuming").

Synchronization: taking the lease and committing a file both hold an
exclusive flock(2) on DIR/_lease.lock. Invariant: a commit's check of the
token and its rename happen under that lock, and a new token is written under
it, so a commit either completes before the new run takes the lease (and the
new run's plan, which comes after, sees the file) or sees the new token and
is refused. The lock is released when its file descriptor is closed, also
when the holder dies, so a killed run never leaves the folder locked. DIR
must be on a file system whose flock works across the nodes that write to it
(local disks; NFSv4 and CephFS do).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LEASE_FILE = "_lease"
LOCK_FILE = "_lease.lock"


class SupersededError(ValueError):
    """A newer run took the output folder's lease; this run may not commit."""


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    fd = os.open(out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _current(out_dir: Path) -> str:
    try:
        return (out_dir / LEASE_FILE).read_text().strip()
    except FileNotFoundError:
        return ""


class Lease:
    """One run's claim on an output folder (picklable: the actors get it)."""

    def __init__(self, out_dir: Path | str, token: str):
        self.out_dir = Path(out_dir)
        self.token = token

    @classmethod
    def take(cls, out_dir: Path | str) -> Lease:
        """Makes this run the folder's only committer; every earlier run's
        commits are refused from now on."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        lease = cls(out_dir, uuid.uuid4().hex)
        with _locked(out_dir):
            tmp = out_dir / f"{LEASE_FILE}.{lease.token}"
            tmp.write_text(lease.token + "\n")
            os.replace(tmp, out_dir / LEASE_FILE)
        return lease

    def check(self) -> None:
        """Raises SupersededError when a newer run holds the lease (a hint
        that lets an orphan stop early; commit() is the fence)."""
        if _current(self.out_dir) != self.token:
            raise self._superseded()

    def commit(self, tmp: Path, final: Path) -> None:
        """Renames tmp to final if this run still holds the lease, else
        raises SupersededError and leaves final untouched."""
        with _locked(self.out_dir):
            if _current(self.out_dir) != self.token:
                raise self._superseded()
            os.replace(tmp, final)

    def _superseded(self) -> SupersededError:
        return SupersededError(f"{self.out_dir}: a newer run of this job took the output folder "
                               f"(its lease is no longer {self.token[:8]}); this run's files are not committed")
