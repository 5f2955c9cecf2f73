"""Signed checkpoints of the audit chain, kept apart from the store.

A checkpoint says "at this time the chain had ``count`` entries and its head
MAC was ``head_mac``", signed with the service's Ed25519 key. Whoever can
rewrite the store (drop its newest entries, empty it, re-chain it) cannot
also produce a checkpoint that agrees, and the checkpoints live elsewhere:
``<var>/service/checkpoints`` by default, or the folder the profile key
``audit_checkpoints`` names — in the multi-user profile a different medium
than the database (a write-once mount or another host's share), so one
compromise does not reach both.

Two kinds of file: ``checkpoint-<count>.json`` is kept for good (every N
entries and on demand), ``latest.json`` is replaced after every append, so
dropping even the newest entry is caught. ``signing.pub`` is the public key,
for checking checkpoints without the service.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regionlab.platform.private_files import write_private
from regionlab.research.audit_keys import public_key_hex

FORMAT = "regionlab-audit-checkpoint/1"
LATEST = "latest.json"
PUBLIC_KEY = "signing.pub"


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement about the chain's head."""

    count: int
    head_id: str
    head_mac: str
    at: str
    signature: str
    file: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "count": self.count,
            "head_id": self.head_id,
            "head_mac": self.head_mac,
            "at": self.at,
        }


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(
    key: Ed25519PrivateKey, *, count: int, head_id: str, head_mac: str, at: datetime
) -> Checkpoint:
    draft = Checkpoint(count, head_id, head_mac, at.isoformat(), "")
    return Checkpoint(**{**draft.__dict__, "signature": key.sign(_canonical(draft.body())).hex()})


def signature_valid(key: Ed25519PrivateKey, cp: Checkpoint) -> bool:
    try:
        key.public_key().verify(bytes.fromhex(cp.signature), _canonical(cp.body()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _text(cp: Checkpoint) -> str:
    return json.dumps({**cp.body(), "signature": cp.signature}, indent=2) + "\n"


class CheckpointFolder:
    """The folder of checkpoints (not the store's: see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _ensure(self, key: Ed25519PrivateKey) -> None:
        if not self.path.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            os.chmod(self.path, 0o700)
        pub = self.path / PUBLIC_KEY
        if not pub.exists():
            write_private(pub, public_key_hex(key) + "\n")

    def keep(self, key: Ed25519PrivateKey, cp: Checkpoint) -> Path:
        """A checkpoint kept for good (its file name carries the count)."""
        self._ensure(key)
        target = self.path / f"checkpoint-{cp.count:012d}.json"
        write_private(target, _text(cp))
        return target

    def advance_latest(self, key: Ed25519PrivateKey, cp: Checkpoint) -> None:
        """Replace ``latest.json`` unless it already covers more entries (writers race)."""
        self._ensure(key)
        lock = os.open(self.path / ".latest.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self._read(self.path / LATEST)
            if current is None or current.count < cp.count:
                write_private(self.path / LATEST, _text(cp))
        finally:
            os.close(lock)

    @staticmethod
    def _read(path: Path) -> Checkpoint | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Checkpoint(
                count=int(data["count"]),
                head_id=str(data["head_id"]),
                head_mac=str(data["head_mac"]),
                at=str(data["at"]),
                signature=str(data["signature"]),
                file=path.name,
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # unreadable: reported as a bad signature by whoever verifies it
            return Checkpoint(-1, "", "", "", "", file=path.name)

    def all(self) -> list[Checkpoint]:
        """Every checkpoint on file, kept ones first (by count), then the latest."""
        if not self.path.is_dir():
            return []
        files = sorted(self.path.glob("checkpoint-*.json")) + [self.path / LATEST]
        return [cp for f in files if (cp := self._read(f)) is not None]

    def names(self) -> set[str]:
        return (
            {p.name for p in self.path.glob("checkpoint-*.json")} if self.path.is_dir() else set()
        )


__all__ = ["Checkpoint", "CheckpointFolder", "sign", "signature_valid"]
