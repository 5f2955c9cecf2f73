"""Fixtures for the privacy tests: a clean key environment and small test keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionlab.privacy.keys import PseudonymKey


@pytest.fixture
def no_key_env(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh var/ and no key configured through the environment."""
    monkeypatch.delenv("REGIONLAB_KEY", raising=False)
    monkeypatch.delenv("REGIONLAB_KEY_FILE", raising=False)
    return var_dir


@pytest.fixture
def key() -> PseudonymKey:
    return PseudonymKey(secret=bytes(range(32)))


@pytest.fixture
def other_key() -> PseudonymKey:
    return PseudonymKey(secret=bytes(range(1, 33)))
