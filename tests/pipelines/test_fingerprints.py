"""Delivery digests are remembered while a file is unchanged, and taken again when it changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from regionlab.wap import fingerprints


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file whose bytes the fingerprint reads."""
    seen: list[Path] = []
    real = fingerprints.sha256_file

    def counting(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(fingerprints, "sha256_file", counting)
    monkeypatch.setattr(fingerprints, "_loaded", {})
    return seen


def _age(path: Path, seconds: float = 60) -> None:
    """Set the file's modification time back (its change time stays now: the file must
    then wait out the racy window, which the test shortens instead)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - int(seconds * 1e9)))


def test_a_digest_is_remembered_until_the_file_changes(
    tmp_path: Path, reads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprints, "RACY_SECONDS", 0.0)
    cache = tmp_path / "cache" / "fingerprints.json"
    delivery = tmp_path / "contacts_2026-11-01.csv"
    delivery.write_bytes(b"a,b\n1,2\n")
    _age(delivery)
    expected = hashlib.sha256(b"a,b\n1,2\n").hexdigest()

    assert fingerprints.fingerprint(delivery, cache) == expected
    assert fingerprints.fingerprint(delivery, cache) == expected
    assert reads == [delivery]  # the second answer came from the cache
    assert cache.stat().st_mode & 0o777 == 0o600  # the owner's alone, like sources/
    assert cache.parent.stat().st_mode & 0o777 == 0o700
    monkeypatch.setattr(fingerprints, "_loaded", {})  # another process reads the file
    assert fingerprints.fingerprint(delivery, cache) == expected
    assert reads == [delivery]

    delivery.write_bytes(b"a,b\n1,3\n")  # same size, new content
    changed = hashlib.sha256(b"a,b\n1,3\n").hexdigest()
    assert fingerprints.fingerprint(delivery, cache) == changed
    assert reads == [delivery, delivery]


def test_a_file_changed_just_now_is_not_remembered(tmp_path: Path, reads: list[Path]) -> None:
    cache = tmp_path / "fingerprints.json"
    delivery = tmp_path / "contacts_2026-11-01.csv"
    delivery.write_bytes(b"a,b\n1,2\n")
    fingerprints.fingerprint(delivery, cache)
    fingerprints.fingerprint(delivery, cache)
    assert reads == [delivery, delivery]
    assert not cache.exists()


def test_no_cache_file_always_reads(tmp_path: Path, reads: list[Path]) -> None:
    delivery = tmp_path / "d.csv"
    delivery.write_bytes(b"x\n")
    _age(delivery)
    for _ in range(2):
        assert fingerprints.fingerprint(delivery, None) == hashlib.sha256(b"x\n").hexdigest()
    assert len(reads) == 2
