"""Session fixtures for the Label Studio tests: ONE template, ONE server for the session.

The template (migrations + admin) is prepared once and copied, so only the
first start pays for Django's migrations; every test module that needs a
running server shares ``ls_server``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from labeling import server as ls
from labeling.venv import VENV_ENV_VAR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ls_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Label Studio's venv: shared via REGIONLAB_LABELSTUDIO_VENV, else one per session."""
    override = os.environ.get(VENV_ENV_VAR)
    target = Path(override) if override else tmp_path_factory.mktemp("labelstudio") / "venv"
    return ls.ensure_venv(target)


@pytest.fixture(scope="session")
def ls_template(tmp_path_factory: pytest.TempPathFactory, ls_venv: Path) -> Path:
    return ls.prepare_template(
        tmp_path_factory.mktemp("labelstudio-template") / "tpl", venv_dir=ls_venv
    )


@pytest.fixture(scope="session")
def ls_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labelstudio-var")


@pytest.fixture(scope="session")
def ls_server(ls_var: Path, ls_template: Path, ls_venv: Path) -> Iterator[ls.LabelStudioServer]:
    running = ls.start(
        var_dir=ls_var, from_template=ls_template, venv_dir=ls_venv, port=free_port()
    )
    try:
        yield running
    finally:
        ls.stop(var_dir=ls_var)
