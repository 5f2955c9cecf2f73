"""Label Studio's venv is built with the project's own uv when none is on PATH.

A fresh machine has uv only where the Makefile put it (``.tools/bin/uv``); ``make labeling``
used to fail there with "uv is not on PATH".
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labeling import venv
from regionlab.errors import UserError


def _fake_uv(folder: Path) -> Path:
    folder.mkdir(parents=True)
    uv = folder / "uv"
    uv.write_text("#!/bin/sh\nexit 0\n")
    uv.chmod(0o755)
    return uv


def test_without_uv_on_path_the_projects_own_uv_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _fake_uv(tmp_path / ".tools" / "bin")
    monkeypatch.setattr(venv, "PROJECT_UV", own)
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert venv._uv() == str(own)


def test_the_uv_running_us_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = _fake_uv(tmp_path / "running")
    on_path = _fake_uv(tmp_path / "path")
    monkeypatch.setenv("UV", str(running))
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert venv._uv() == str(running)
    monkeypatch.delenv("UV")
    assert venv._uv() == str(on_path)


def test_no_uv_anywhere_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venv, "PROJECT_UV", tmp_path / "missing" / "uv")
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UserError, match="make uv"):
        venv._uv()
    assert not os.access(tmp_path / "missing" / "uv", os.X_OK)
