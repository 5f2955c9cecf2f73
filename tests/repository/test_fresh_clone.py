"""A fresh clone on a machine without uv: the README's first command works the first time.

CI's own way: ``git clone`` the committed HEAD into an empty folder (nothing beside it, so no
sibling ``shared`` folder either), put only Python 3.11, make and git on ``PATH`` (every
``PATH`` entry that holds a ``uv`` is removed), run ``make sync`` once, then the installed
command. The Makefile must install its own pinned uv into ``.tools/`` — the first ``make demo``
used to fail because the Makefile guessed where ``pip install uv`` would put it.

As root this runs the whole sync (fast: uv's cache is warm). As an ordinary user (created with
``useradd`` when the test runs as root) it runs the bootstrap and a dry-run sync of the locked
environment: a real sync would download ~440 MB into that user's empty uv cache, which is not
a test to run on a shared machine; the part that used to break — where uv lands and whether
the Makefile finds it — is the same for both.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USER = "regionlab-ci"

pytestmark = pytest.mark.slow


def _path_without_uv() -> str:
    """``PATH`` minus every entry that holds a ``uv`` executable."""
    keep = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and not os.access(os.path.join(entry, "uv"), os.X_OK):
            keep.append(entry)
    return os.pathsep.join(keep)


def _clean_env(path: str, home: str | None = None) -> dict[str, str]:
    """The caller's environment minus everything regionlab, Dagster, uv or a venv set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REGIONLAB_", "DAGSTER_", "UV_", "VIRTUAL_ENV", "DATAHUB_"))
        and k not in {"PYTHONPATH", "CONDA_PREFIX"}
    }
    env["PATH"] = path
    if home is not None:
        env["HOME"] = home
    return env


def _clone(dest: Path) -> Path:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True, timeout=300)
    subprocess.run(["git", "checkout", "--quiet", "--detach", head], cwd=dest, check=True)
    return dest


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900, **kw):
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kw
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} → {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def test_make_sync_in_a_fresh_clone_without_uv_on_path(tmp_path: Path) -> None:
    path = _path_without_uv()
    assert shutil.which("uv", path=path) is None
    assert shutil.which("make", path=path) and shutil.which("git", path=path)
    clone = _clone(tmp_path / "regionlab")
    assert [p.name for p in clone.parent.iterdir()] == ["regionlab"]  # nothing beside it
    env = _clean_env(path)

    _run(["make", "sync"], clone, env)

    uv = clone / ".tools" / "bin" / "uv"
    assert uv.exists(), "make sync did not install its own uv into .tools/"
    assert "0.13.9" in _run([str(uv), "--version"], clone, env).stdout
    regionlab = clone / ".venv" / "bin" / "regionlab"
    assert "Usage" in _run([str(regionlab), "--help"], clone, env, timeout=300).stdout
    env_var = {**env, "REGIONLAB_VAR": str(tmp_path / "var")}
    checked = _run([str(regionlab), "check"], clone, env_var, timeout=300)
    assert "error" not in checked.stdout.lower(), checked.stdout
    # The tests that once read the validator beside the repository pass with nothing beside it.
    tests = ["tests/catalog/test_validation.py", "tests/repository/test_self_contained.py"]
    pytest_run = _run([str(clone / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider",
                       *tests], clone, env_var, timeout=600)  # fmt: skip
    assert " passed" in pytest_run.stdout and "failed" not in pytest_run.stdout


@pytest.fixture
def ordinary_user() -> Iterator[pwd.struct_passwd]:
    """An unprivileged account with its own home; created for the test, removed after it."""
    if os.geteuid() != 0:
        pytest.skip("creating an ordinary user needs root; as non-root the test above is the case")
    useradd = shutil.which("useradd")
    if useradd is None:
        pytest.skip("no useradd on this machine")
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run([useradd, "--create-home", "--shell", "/bin/bash", USER], check=True)
        created = True
    yield pwd.getpwnam(USER)
    if created:
        subprocess.run(["userdel", "--remove", USER], check=False, capture_output=True)


def test_bootstrap_as_an_ordinary_user(ordinary_user: pwd.struct_passwd) -> None:
    # The user's own Python 3.11 and make: root's pyenv is not readable to them.
    path = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None
    work = Path(tempfile.mkdtemp(prefix="regionlab-user-", dir="/tmp"))
    try:
        os.chown(work, ordinary_user.pw_uid, ordinary_user.pw_gid)
        clone = work / "regionlab"
        env = _clean_env(path, home=ordinary_user.pw_dir)
        env["USER"] = env["LOGNAME"] = USER
        ids = {
            "user": ordinary_user.pw_uid,
            "group": ordinary_user.pw_gid,
            "extra_groups": [],
        }
        _clone(clone)  # as root (git refuses another user's repository), then handed over
        subprocess.run(["chown", "-R", f"{USER}:", str(work)], check=True)
        _run(["make", "uv"], clone, env, **ids)
        uv = clone / ".tools" / "bin" / "uv"
        assert uv.exists() and uv.stat().st_uid == ordinary_user.pw_uid
        assert "0.13.9" in _run([str(uv), "--version"], clone, env, **ids).stdout
        # The locked environment resolves for this user's interpreter (nothing installed).
        dry = _run([str(uv), "sync", "--frozen", "--dry-run"], clone, env, **ids)
        assert "Would" in dry.stdout + dry.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)
