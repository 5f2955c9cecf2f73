"""What DataHub Lite already holds, so an emission writes only the aspects that changed.

Every emission builds the whole catalogue (about 1,200 proposals for the demo), and
upserting each one into Lite costs a read and a write in Lite's DuckDB file — 5–19 s
where the JSON file of the same proposals takes 0.2–0.3 s (issue 23). Most of them
are identical to what the previous emission wrote. This module keeps, in
``<var>/catalog/lite-emitted.json``, a digest of the last aspect written per entity
and aspect (per event for time-series aspects), and lets the emission skip the
proposals whose digest is unchanged.

The digest leaves out the emission's own time stamp (``when``: audit stamps such as
``lastModified``, which change on every emission although nothing else did): every
integer equal to it is replaced by a marker before hashing. A value that really
changed still changes the digest; an unchanged aspect keeps the stamp of the
emission that last changed it — which is what "last modified" should say.

The digests describe one Lite file as regionlab left it: the state records the
file's path, size and modification time after each write, and is ignored (every
proposal is written again) when the file was written by anything else since, was
deleted or replaced. Then the URNs Lite holds are also read from Lite itself for
the soft deletes (:mod:`catalog.removed`); otherwise from the state, so an emission
with nothing new does not open Lite at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # DataHub's classes: not imported on an emission with nothing new
    from catalog.common import MCP

STATE_VERSION = 1
#: Stands in for the emission's time stamp in what is hashed.
_WHEN = "<emission time>"


def state_file() -> Path:
    """Where the digests are kept: next to the proposals file."""
    from regionlab.settings import get_settings

    return get_settings().catalog_dir / "lite-emitted.json"


def _file_stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _without(value: Any, when: int) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, when) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, when) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value == when:
        return _WHEN
    return value


def aspect_key(mcp: MCP) -> str:
    """Entity, aspect and — for a time-series aspect, where each event is its own
    record — the event's time."""
    aspect = mcp.aspect
    name = mcp.aspectName or (aspect.get_aspect_name() if aspect is not None else "")
    key = f"{mcp.entityUrn}\t{name}"
    if aspect is not None and aspect.get_aspect_type() == "timeseries":
        key += f"\t{aspect.timestampMillis}"  # type: ignore[attr-defined]
    return key


def aspect_digest(mcp: MCP, when: int) -> str:
    """SHA-256 of the change type and aspect content, the emission's stamp left out."""
    content = {
        "changeType": str(mcp.changeType),
        "aspect": _without(mcp.aspect.to_obj(), when) if mcp.aspect is not None else None,
    }
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@dataclass
class Emitted:
    """The digests of what regionlab last wrote to one Lite file."""

    lite: Path
    path: Path
    #: Whether the digests describe the Lite file as it is now.
    valid: bool = False
    digests: dict[str, str] = field(default_factory=dict)

    def urns(self) -> set[str]:
        """Every entity written to the Lite file (only meaningful when :attr:`valid`)."""
        return {key.split("\t", 1)[0] for key in self.digests}

    def changed(self, mcps: Iterable[MCP], when: int) -> tuple[list[MCP], dict[str, str]]:
        """The proposals to write (new or changed aspects), with their digests."""
        out: list[MCP] = []
        new: dict[str, str] = {}
        for mcp in mcps:
            key, digest = aspect_key(mcp), aspect_digest(mcp, when)
            # What Lite holds for this key after the proposals before this one: a repeated key
            # whose later copy matches the stored digest still overwrites the earlier copy.
            if new.get(key, self.digests.get(key)) == digest:
                continue
            new[key] = digest
            out.append(mcp)
        return out, new

    def record(self, written: dict[str, str]) -> None:
        """Remember what was just written and the Lite file's state after it."""
        if not self.valid:
            self.digests = {}
        self.digests.update(written)
        stamp = _file_stamp(self.lite)
        self.valid = stamp is not None
        payload = {
            "version": STATE_VERSION,
            "lite": str(self.lite.resolve()),
            "stamp": stamp,
            "digests": self.digests,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)  # a reader sees the old state or the new one


def load(lite: Path, path: Path | None = None) -> Emitted:
    """The digests for ``lite``; empty and not valid when they do not describe it now."""
    path = path or state_file()
    state = Emitted(lite=lite, path=path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return state
    stamp = _file_stamp(lite)
    if (
        not isinstance(payload, dict)
        or payload.get("version") != STATE_VERSION
        or payload.get("lite") != str(lite.resolve())
        or stamp is None
        or payload.get("stamp") != stamp
        or not isinstance(payload.get("digests"), dict)
    ):
        return state
    state.valid = True
    state.digests = {str(k): str(v) for k, v in payload["digests"].items()}
    return state


def forget(path: Path | None = None) -> None:
    """Drop the digests (the next emission writes everything to Lite)."""
    (path or state_file()).unlink(missing_ok=True)
