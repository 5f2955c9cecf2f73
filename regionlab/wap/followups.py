"""Follow-up work a deferred publish leaves queued: derived recomputes and the catalogue.

``regionlab run --defer`` publishes the new deliveries (audited, one snapshot each) and
leaves the products derived from them and the catalogue emission to a follow-up, so the
data steward does not wait for them before the delivery is current. The follow-up must
never be lost: the run writes its marker *before* it publishes (a crash after the publish
finds the marker), and a drain removes a marker only after the work it names has been
done. A marker left by a crash at worst repeats the work, which is idempotent (a derived
product is recomputed whole at one snapshot; an unchanged catalogue writes nothing).

Markers are small JSON files in ``var/followups/`` (one per deferring run, written
atomically), naming product references only — never a value. The deferring run holds its
marker (``flock``) until its publish is over, so no drain recomputes from the lake before
the delivery is in it; a run that dies releases it with the process. A drain holds
``var/followups/.lock`` (``flock``) so two drains never recompute the same products at
once; a second drain waits and then finds what the first left, which batches the work of
deliveries that arrived meanwhile into one recompute.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from regionlab.settings import Settings

SUFFIX = ".json"


def folder(settings: Settings) -> Path:
    return settings.var_dir / "followups"


@dataclass
class Pending:
    """The union of the queued markers: what a drain has to do, and the markers it clears."""

    derived: list[str] = field(default_factory=list)
    catalogue: bool = False
    markers: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.markers)

    def describe(self) -> str:
        parts = [*self.derived, *(["catalogue"] if self.catalogue else [])]
        return ", ".join(parts) or "nothing"


@dataclass
class Queued:
    """A marker its run still holds (``flock``): drains leave it alone until :meth:`release`,
    i.e. until the run's own publish is over — or the run died, which releases it too."""

    path: Path
    handle: IO[str]

    def release(self) -> None:
        self.handle.close()

    def withdraw(self) -> None:
        """The run published nothing that needs follow-up work: drop the marker."""
        self.path.unlink(missing_ok=True)
        self.handle.close()


def queue(settings: Settings, derived: Iterable[str], catalogue: bool, reason: str) -> Queued:
    """Write one marker atomically and durably (temp file, fsync, rename), held locked."""
    target = folder(settings)
    target.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    marker = target / f"{name}{SUFFIX}"
    tmp = target / f".{name}.tmp"
    body = {"derived": list(derived), "catalogue": catalogue, "reason": reason}
    fh = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - held until release()
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    json.dump(body, fh)
    fh.flush()
    os.fsync(fh.fileno())
    os.replace(tmp, marker)
    _sync_dir(target)
    return Queued(marker, fh)


def pending(settings: Settings, order: list[str] | None = None) -> Pending:
    """Every queued marker, merged; ``order`` (the registry's run order) orders the products."""
    target = folder(settings)
    out = Pending()
    if not target.is_dir():
        return out
    wanted: set[str] = set()
    for marker in sorted(target.glob(f"*{SUFFIX}")):
        body = _read_unheld(marker)
        if body is None:
            continue
        wanted.update(body.get("derived", []))
        out.catalogue = out.catalogue or bool(body.get("catalogue"))
        out.markers.append(marker)
    rank = {ref: i for i, ref in enumerate(order or [])}
    out.derived = sorted(wanted, key=lambda r: (rank.get(r, len(rank)), r))
    return out


def _read_unheld(marker: Path) -> dict | None:
    """The marker's content, or None while its run still holds it (or it is gone/foreign)."""
    try:
        with open(marker, encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            body = json.loads(fh.read())
    except (OSError, ValueError):  # written by rename: an unreadable one is not ours
        return None
    return body if isinstance(body, dict) else None


def held(settings: Settings) -> int:
    """How many markers a run still holds (its publish is under way)."""
    target = folder(settings)
    markers = sorted(target.glob(f"*{SUFFIX}")) if target.is_dir() else []
    return sum(1 for m in markers if m.exists() and _read_unheld(m) is None)


def clear(markers: Iterable[Path]) -> None:
    """Remove markers whose work is done (those a drain read; later ones stay queued)."""
    for marker in markers:
        marker.unlink(missing_ok=True)


@contextlib.contextmanager
def drain_lock(settings: Settings) -> Iterator[None]:
    """Hold the one drain lock (waits while another drain holds it)."""
    target = folder(settings)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def draining(settings: Settings) -> bool:
    """Whether a drain holds the lock right now (for status output and the benchmark)."""
    lock = folder(settings) / ".lock"
    if not lock.exists():
        return False
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
