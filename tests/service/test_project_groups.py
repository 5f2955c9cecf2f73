"""A project's workspace folder belongs to its group: real accounts, real permission checks.

As ``test_zones.py``: CI runs as root, so the test creates the service's account,
a project member and a researcher of another project with ``useradd`` and acts
as them with ``runuser``.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.platform.project_groups import group_name, provision_project
from regionlab.platform.zones import harden
from regionlab.settings import Settings
from tests.service.test_zones import RESEARCHER_ACCOUNT, SERVICE_ACCOUNT, ensure_account

MEMBER_ACCOUNT = "regionlab-mem"
PROJECT = "proj-groups"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates OS accounts: needs root (CI)")


def as_user(account: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", account, "--", *args], capture_output=True, text=True)


@pytest.fixture()
def var() -> Iterator[Path]:
    for name in (SERVICE_ACCOUNT, RESEARCHER_ACCOUNT, MEMBER_ACCOUNT):
        ensure_account(name)
    root = Path(tempfile.mkdtemp(prefix="regionlab-groups-"))
    root.chmod(0o755)
    yield root / "var"
    shutil.rmtree(root)
    subprocess.run(["groupdel", group_name(PROJECT)], capture_output=True)


def test_only_the_project_group_reaches_the_workspace_folder(var: Path) -> None:
    settings = Settings(domains_dir=var, var_dir=var)
    folder = settings.workspace_dir(PROJECT)
    folder.mkdir(parents=True)
    db = folder / f"{PROJECT}.duckdb"
    db.write_text("encrypted bytes\n")
    manifest = folder / "manifest.json"
    manifest.write_text("{}\n")
    key = settings.workspace_key_file(PROJECT)
    key.parent.mkdir(parents=True)
    key.write_text("00" * 32 + "\n")
    harden(settings, SERVICE_ACCOUNT)
    # Control: after hardening alone the member reaches nothing either.
    assert as_user(MEMBER_ACCOUNT, "cat", str(manifest)).returncode != 0

    access = provision_project(settings, PROJECT, SERVICE_ACCOUNT, [MEMBER_ACCOUNT])
    assert access.group == "rl-proj-groups"
    assert MEMBER_ACCOUNT in grp.getgrnam(access.group).gr_mem
    assert as_user(MEMBER_ACCOUNT, "cat", str(manifest)).stdout == "{}\n"
    assert as_user(MEMBER_ACCOUNT, "ls", str(folder)).returncode == 0
    made = as_user(MEMBER_ACCOUNT, "touch", str(folder / "outputs" / "table.csv"))
    assert made.returncode == 0, made.stderr
    # The key stays the service's; the encrypted file is readable by the group, whose
    # permit holder gets the key from POST /workspaces/{project}/open.
    denied = as_user(MEMBER_ACCOUNT, "cat", str(key))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert as_user(MEMBER_ACCOUNT, "cat", str(db)).stdout == "encrypted bytes\n"
    assert as_user(SERVICE_ACCOUNT, "cat", str(db)).stdout == "encrypted bytes\n"
    assert as_user(RESEARCHER_ACCOUNT, "cat", str(db)).returncode != 0
    # Another project's researcher gets nothing, and cannot list the workspaces.
    for args in (["cat", str(manifest)], ["ls", str(folder)], ["ls", str(folder.parent)]):
        denied = as_user(RESEARCHER_ACCOUNT, *args)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, args
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2750
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
    # Idempotent: a second run changes nothing and keeps the member.
    again = provision_project(settings, PROJECT, SERVICE_ACCOUNT, [MEMBER_ACCOUNT])
    assert again.members == (MEMBER_ACCOUNT,)


def test_unknown_accounts_are_named(var: Path) -> None:
    settings = Settings(domains_dir=var, var_dir=var)
    with pytest.raises(UserError, match="no-such-member"):
        provision_project(settings, PROJECT, SERVICE_ACCOUNT, ["no-such-member"])


def test_long_project_ids_make_valid_group_names() -> None:
    long = "a" + "b" * 62
    name = group_name(long)
    assert len(name) <= 32 and name.startswith("rl-") and name != group_name(long[:-1] + "c")


def test_provision_never_follows_a_symlink_planted_in_outputs(var: Path) -> None:
    """Members write ``outputs/``; root must not chmod/chown what their symlinks point at."""
    settings = Settings(domains_dir=var, var_dir=var)
    outputs = settings.workspace_dir(PROJECT) / "outputs"
    outputs.mkdir(parents=True)
    outside = var.parent / "outside"
    outside.mkdir(mode=0o700)
    secret_file = outside / "secret"
    secret_file.write_text("root only\n")
    secret_file.chmod(0o600)
    secret_dir = outside / "secrets"
    secret_dir.mkdir(mode=0o700)
    (outputs / "to-file").symlink_to(secret_file)
    (outputs / "to-dir").symlink_to(secret_dir)
    os.link(secret_file, outputs / "hard-link")  # another name for the outside file
    before = {p: os.stat(p) for p in (secret_file, secret_dir)}

    provision_project(settings, PROJECT, SERVICE_ACCOUNT, [MEMBER_ACCOUNT])

    for path, was in before.items():
        now = os.stat(path)
        assert stat.S_IMODE(now.st_mode) == stat.S_IMODE(was.st_mode), path
        assert (now.st_uid, now.st_gid) == (was.st_uid, was.st_gid), path
    assert (outputs / "to-file").is_symlink()  # left alone, not removed or followed


def test_a_workspace_built_before_encryption_stays_the_services(var: Path) -> None:
    """Only an encrypted workspace file is given to the group (its key is the service's).
    A file from before workspaces were encrypted is plain data: a member who does not
    hold the permit must not read it, so provisioning keeps it 0600."""
    import duckdb

    settings = Settings(domains_dir=var, var_dir=var)
    folder = settings.workspace_dir(PROJECT)
    folder.mkdir(parents=True)
    db = folder / f"{PROJECT}.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE persons AS SELECT 'plain-person-row' AS person_key")
    con.close()
    db.chmod(0o600)
    (folder / "manifest.json").write_text('{"encrypted": false}\n')

    provision_project(settings, PROJECT, SERVICE_ACCOUNT, [MEMBER_ACCOUNT])

    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    denied = as_user(MEMBER_ACCOUNT, "cat", str(db))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert as_user(SERVICE_ACCOUNT, "test", "-r", str(db)).returncode == 0
