"""The audit store's per-account lock holds across processes (several uvicorn workers).

Each holder is a separate Python process, as a second uvicorn worker would be:
it takes the lock of an account through the real backend (SQLite file or a
real PostgreSQL database), says ``held``, and lets go when told (or dies).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.research.test_audit_store import _pg_database

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from pathlib import Path
from regionlab.research.audit_backends import backend_for
backend = backend_for(sys.argv[1], Path(sys.argv[2]))
with backend.account_lock(sys.argv[3]):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'service' / 'audit.sqlite'}"
        return
    for conninfo in _pg_database():
        yield f"postgres:{conninfo}"


class Holder:
    def __init__(self, spec: str, tmp_path: Path, account: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, spec, str(tmp_path / "unused.sqlite"), account],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)

    def says(self, wait: float) -> str | None:
        """The holder's next line, or ``None`` if it said nothing within ``wait`` seconds."""
        assert self.proc.stdout is not None
        if not self._sel.select(timeout=wait):
            return None
        return self.proc.stdout.readline().strip()

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def test_one_account_is_held_across_processes_others_are_not(spec: str, tmp_path: Path) -> None:
    first = Holder(spec, tmp_path, "ann")
    second = third = None
    try:
        assert first.says(60) == "held"
        second = Holder(spec, tmp_path, "ann")
        third = Holder(spec, tmp_path, "bob")
        assert third.says(60) == "held"  # another account is not held up
        time.sleep(1.0)  # give the second process every chance to (wrongly) get in
        assert second.says(0.5) is None  # ann's second request waits ...
        first.release()
        assert first.says(60) == "released"
        assert second.says(60) == "held"  # ... until the first lets go
    finally:
        for h in (first, second, third):
            if h is not None:
                h.stop()


def test_a_dead_holder_does_not_keep_the_account_locked(spec: str, tmp_path: Path) -> None:
    first = Holder(spec, tmp_path, "ann")
    second = None
    try:
        assert first.says(60) == "held"
        second = Holder(spec, tmp_path, "ann")
        assert second.says(1.0) is None
        os.kill(first.proc.pid, signal.SIGKILL)  # a worker that crashed mid-request
        assert second.says(60) == "held"
    finally:
        for h in (first, second):
            if h is not None:
                h.stop()
