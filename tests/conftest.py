"""Shared fixtures: every test gets its own ``var/`` so nothing touches the developer's."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``var/`` folder that ``regionlab.settings`` points at."""
    var = tmp_path / "var"
    var.mkdir()
    monkeypatch.setenv("REGIONLAB_VAR", str(var))
    return var
