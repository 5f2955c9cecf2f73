"""Label Studio's own virtual environment, created and kept in step by the project.

Label Studio pins Django, numpy and friends in ways that clash with the main
stack (Dagster, Great Expectations, DataHub), so it never shares the main
``.venv``: it lives in ``var/labelstudio/venv``, built with ``uv`` from the fully
pinned ``labeling/requirements-server.txt``. A stamp file holding the hash of
that requirements file tells whether the environment is current, so a second
call costs a file read and a changed pin rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from labeling.locks import file_lock
from regionlab.errors import UserError
from regionlab.settings import PROJECT_ROOT, get_settings

REQUIREMENTS = Path(__file__).resolve().parent / "requirements-server.txt"
STAMP_NAME = ".regionlab-requirements.sha256"
VENV_ENV_VAR = "REGIONLAB_LABELSTUDIO_VENV"
PYTHON_VERSION = "3.11"


def _pinned(package: str) -> str:
    """Read a package's exact pin from the requirements file: one source of truth."""
    match = re.search(
        rf"^{re.escape(package)}==(\S+)\s*$", REQUIREMENTS.read_text(encoding="utf-8"), re.M
    )
    if match is None:
        raise RuntimeError(f"{REQUIREMENTS}: no exact pin for {package}")
    return match.group(1)


LABEL_STUDIO_VERSION = _pinned("label-studio")
SDK_VERSION = _pinned("label-studio-sdk")


def default_venv_dir(var_dir: Path | None = None) -> Path:
    """Where the venv lives: ``$REGIONLAB_LABELSTUDIO_VENV`` or ``<var>/labelstudio/venv``.

    The environment variable lets CI and test sessions share one venv across
    throw-away ``var/`` folders.
    """
    override = os.environ.get(VENV_ENV_VAR)
    if override:
        return Path(override)
    settings = get_settings()
    if var_dir is not None:
        settings = settings.model_copy(update={"var_dir": var_dir})
    return settings.labelstudio_dir / "venv"


def executable(venv_dir: Path) -> Path:
    """The ``label-studio`` console script of a venv."""
    return venv_dir / "bin" / "label-studio"


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_current(venv_dir: Path) -> bool:
    """True when the venv was built from the current requirements file."""
    stamp = venv_dir / STAMP_NAME
    return (
        executable(venv_dir).exists()
        and stamp.exists()
        and stamp.read_text(encoding="utf-8").strip() == _requirements_hash()
    )


#: The uv the Makefile installs into the project (``make uv``): a fresh machine may have no
#: other, and ``uv`` need not be on ``PATH`` for ``make`` targets to work.
PROJECT_UV = PROJECT_ROOT / ".tools" / "bin" / "uv"


def _uv() -> str:
    """The uv to build the venv with: the one running us (``uv run`` sets ``UV``), the one
    on ``PATH``, or the project's own under ``.tools/``."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(PROJECT_UV)):
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise UserError(
        "no uv found (not in $UV, not on PATH, not in .tools/bin): Label Studio's virtual "
        "environment is built with uv; run `make uv` in the project folder."
    )


def _run(cmd: list[str]) -> None:
    # VIRTUAL_ENV of the main environment must not steer uv to the wrong venv.
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(cmd[:3])} ...` failed ({proc.returncode}):\n{tail}")


def ensure_venv(venv_dir: Path | None = None) -> Path:
    """Create or update Label Studio's venv and return its folder.

    Cheap when current; otherwise ``uv venv`` + ``uv pip sync`` (sync, not
    install, so a removed pin really leaves the environment).
    """
    venv_dir = (Path(venv_dir) if venv_dir is not None else default_venv_dir()).absolute()
    if is_current(venv_dir):
        return venv_dir
    with file_lock(venv_dir.parent / f".{venv_dir.name}.lock"):
        if is_current(venv_dir):
            return venv_dir
        uv = _uv()
        stamp = venv_dir / STAMP_NAME
        stamp.unlink(missing_ok=True)
        if not (venv_dir / "bin" / "python").exists():
            _run([uv, "venv", "--quiet", "--python", PYTHON_VERSION, str(venv_dir)])
        python = str(venv_dir / "bin" / "python")
        _run([uv, "pip", "sync", "--quiet", "--python", python, str(REQUIREMENTS)])
        if not executable(venv_dir).exists():
            raise RuntimeError(f"{venv_dir}: label-studio was installed but has no console script")
        stamp.write_text(_requirements_hash() + "\n", encoding="utf-8")
    return venv_dir
