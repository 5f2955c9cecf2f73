"""The OS keeps researchers out of the service's places: real accounts, real permission checks.

CI runs as root, so the test creates two system accounts (the service's and a
researcher's) with ``useradd`` and reads files as the researcher with ``runuser``.
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

from regionlab.errors import UserError
from regionlab.platform.zones import harden
from regionlab.settings import Settings

SERVICE_ACCOUNT = "regionlab-svc"
RESEARCHER_ACCOUNT = "regionlab-res"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates OS accounts: needs root (CI)")


def ensure_account(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
        )


def read_as(account: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", account, "--", "cat", str(path)], capture_output=True, text=True
    )


@pytest.fixture()
def shared_var() -> Iterator[Path]:
    """A var/ outside pytest's 0700 temp root, so other accounts can reach it by path."""
    ensure_account(SERVICE_ACCOUNT)
    ensure_account(RESEARCHER_ACCOUNT)
    root = Path(tempfile.mkdtemp(prefix="regionlab-zones-"))
    root.chmod(0o755)
    yield root / "var"
    shutil.rmtree(root)


def _plant(var: Path) -> dict[str, Path]:
    files = {
        "key": var / "secrets" / "pseudonym.key",
        "lake": var / "lake" / "catalog.sqlite",
        "audit": var / "service" / "audit.sqlite",
        "quarantine": var / "quarantine" / "notes.duckdb",
        "source": var / "sources" / "cpr" / "persons.csv",
        "site": var / "catalog" / "site" / "index.html",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("planted\n")
        path.chmod(0o644)  # what a careless umask would leave
    return files


def test_a_researcher_cannot_read_the_lake_the_key_the_audit_or_the_sources(
    shared_var: Path,
) -> None:
    files = _plant(shared_var)
    harden(Settings(domains_dir=shared_var, var_dir=shared_var), SERVICE_ACCOUNT)
    for name in ("key", "lake", "audit", "quarantine", "source"):
        denied = read_as(RESEARCHER_ACCOUNT, files[name])
        assert denied.returncode != 0, name
        assert "Permission denied" in denied.stderr, name
        assert read_as(SERVICE_ACCOUNT, files[name]).stdout == "planted\n", name
    assert read_as(RESEARCHER_ACCOUNT, files["site"]).stdout == "planted\n"
    listing = subprocess.run(
        ["runuser", "-u", RESEARCHER_ACCOUNT, "--", "ls", str(shared_var)],
        capture_output=True,
        text=True,
    )
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


def test_before_hardening_the_same_files_are_readable(shared_var: Path) -> None:
    """The control: without harden() the researcher reads everything (the test above can fail)."""
    files = _plant(shared_var)
    assert read_as(RESEARCHER_ACCOUNT, files["key"]).stdout == "planted\n"


def test_hardening_names_a_missing_account(shared_var: Path) -> None:
    with pytest.raises(UserError, match="useradd"):
        harden(Settings(domains_dir=shared_var, var_dir=shared_var), "no-such-account-x")
