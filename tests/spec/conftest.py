"""Fixtures for the spec tests: a private, editable copy of the real ``domains/``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from regionlab.spec.loader import collect

REPO = Path(__file__).resolve().parents[2]
DOMAINS = REPO / "domains"


@pytest.fixture
def domains_copy(tmp_path: Path) -> Path:
    """A copy of the real domains folder at ``<tmp>/domains``, safe to break."""
    target = tmp_path / "domains"
    shutil.copytree(DOMAINS, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact snippet; fail loudly if the real spec no longer contains it."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def problems_of() -> Callable[[Path], list[str]]:
    """Rendered problems of a domains folder, paths relative to its parent."""

    def run(root: Path) -> list[str]:
        _, problems = collect(root)
        return [p.render(root.parent) for p in problems]

    return run
