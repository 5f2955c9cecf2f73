"""Issue 19: a workspace stays closed — encrypted at rest, locked when open, deleted at expiry."""
# ruff: noqa: F811  (the fixtures lab and shared_lake are imported from the permit tests)

from __future__ import annotations

import json
import shutil
import stat
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from regionlab.errors import UserError
from regionlab.lake.extensions import duckdb_connect
from regionlab.research.permits import register_permit
from regionlab.research.workspace import (
    build_workspace,
    catalog_manifest_path,
    open_workspace,
    remove_workspace,
    workspace_dir,
    workspace_path,
)
from regionlab.research.workspace_crypto import key_file
from regionlab.research.workspace_sweep import RULE_EXPIRED, sweep_workspaces
from regionlab.settings import get_settings
from tests.research.handbuilt import LABS, pk
from tests.research.test_permits_workspace import (  # noqa: F401  (fixtures)
    TODAY,
    lab,
    shared_lake,
    write_permit,
)

EXPIRES = date(2026, 12, 31)
AFTER = EXPIRES + timedelta(days=1)


def _build(folder: Path, project: str = "proj-c", **changes: object) -> Path:
    changes = {"expires": EXPIRES.isoformat(), **changes}
    register_permit(write_permit(folder, project, **changes), today=TODAY)
    build_workspace(project, today=TODAY)
    return workspace_path(project)


def _plain_open_fails(path: Path) -> None:
    """Neither a plain connection nor one that can decrypt (but has no key) reads the file."""
    with pytest.raises(duckdb.Error, match="without a key|encrypt"):
        duckdb.connect(str(path), read_only=True)
    con = duckdb_connect()
    try:
        with pytest.raises(duckdb.Error):
            con.execute(f"ATTACH '{path}' AS w (READ_ONLY)")
            con.execute("SELECT count(*) FROM w.laboratory.lab_results").fetchone()
    finally:
        con.close()


def test_workspace_is_encrypted_and_private(lab: Path, tmp_path: Path) -> None:
    path = _build(lab)
    raw = path.read_bytes()
    assert b"NPU27300" not in raw and b"laboratory" not in raw  # no plaintext at all
    _plain_open_fails(path)
    copy = tmp_path / "stolen.duckdb"
    shutil.copy(path, copy)
    _plain_open_fails(copy)
    # The key lives with the service's secrets, never in (or below) the workspace folder.
    key = key_file("proj-c")
    assert key.is_file() and get_settings().secrets_dir in key.parents
    assert workspace_dir("proj-c") not in key.parents
    key_text = key.read_text(encoding="utf-8").strip()
    for file in workspace_dir("proj-c").rglob("*"):
        if file.is_file():
            assert key_text.encode() not in file.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(workspace_dir("proj-c").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # With the permit the project still reads its data.
    con = open_workspace("proj-c", today=TODAY)
    n = con.execute("SELECT count(*) FROM laboratory.lab_results").fetchone()[0]
    con.close()
    assert n > 0


def test_open_workspace_reaches_no_other_file(lab: Path, var_dir: Path) -> None:
    _build(lab)
    _build(lab, "proj-other")
    settings = get_settings()
    source = settings.sources_dir / "lab.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("cpr,value\n010180-1234,5\n", encoding="utf-8")
    quarantine = settings.quarantine_file("laboratory/lab_results")
    quarantine.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(quarantine)).close()
    secret = var_dir / "secrets" / "pseudonym.key"
    assert secret.is_file()

    con = open_workspace("proj-c", today=TODAY)
    try:
        # The workspace itself reads as before (default database, schema.table names).
        assert con.execute("SELECT count(*) FROM population.persons").fetchone()[0] > 0
        attempts = {
            "read_text key": f"SELECT * FROM read_text('{secret}')",
            "read_csv source": f"SELECT * FROM read_csv('{source}')",
            "attach quarantine": f"ATTACH '{quarantine}' AS q (READ_ONLY)",
            "attach other workspace": f"ATTACH '{workspace_path('proj-other')}' AS o",
            "workspace key file": f"SELECT * FROM read_text('{key_file('proj-c')}')",
            "copy out": f"COPY population.persons TO '{var_dir / 'out.csv'}'",
            "external access on": "SET enable_external_access = true",
            "unlock": "SET lock_configuration = false",
            "write": "DELETE FROM population.persons",
        }
        for what, sql in attempts.items():
            with pytest.raises(duckdb.Error):
                con.execute(sql)
                pytest.fail(f"{what} succeeded")
        assert not (var_dir / "out.csv").exists()
        # Results still leave as data frames.
        frame = con.execute("SELECT sex, count(*) AS n FROM population.persons GROUP BY 1").pl()
        assert frame.height >= 1
    finally:
        con.close()


def test_sweep_deletes_expired_workspaces_with_a_receipt(lab: Path, tmp_path: Path) -> None:
    path = _build(lab)
    _build(lab, "proj-live", expires="2027-06-30")
    stolen = tmp_path / "copy.duckdb"
    shutil.copy(path, stolen)
    outputs = workspace_dir("proj-c") / "outputs"
    outputs.mkdir()
    (outputs / "table.csv").write_text("sex,n\nK,12\n", encoding="utf-8")

    # Before the sweep: refused through the API, the file is closed without the key.
    with pytest.raises(UserError, match="expired on 2026-12-31"):
        open_workspace("proj-c", today=AFTER)
    _plain_open_fails(path)

    assert sweep_workspaces(today=EXPIRES) == []  # valid through its last day
    receipts = sweep_workspaces(today=AFTER, by="test")
    assert [r.project_id for r in receipts] == ["proj-c"]
    receipt = receipts[0]
    assert receipt.rule == RULE_EXPIRED and receipt.permit_expires == EXPIRES
    assert receipt.key_destroyed and receipt.deleted_by == "test"
    names = {Path(f.path).name: f.bytes for f in receipt.files}
    assert {"proj-c.duckdb", "manifest.json", "table.csv", "proj-c.json"} <= set(names)
    assert names["proj-c.duckdb"] == stolen.stat().st_size
    assert all(not Path(f.path).is_absolute() for f in receipt.files)

    # Everything is gone: folder, key, catalogue copy; the other project is untouched.
    assert not workspace_dir("proj-c").exists()
    assert not key_file("proj-c").exists()
    assert not catalog_manifest_path("proj-c").exists()
    assert workspace_path("proj-live").is_file() and key_file("proj-live").is_file()
    # Every route fails: the API, a plain connection on the copy, the copy with any key.
    with pytest.raises(UserError, match="expired"):
        open_workspace("proj-c", today=AFTER)
    with pytest.raises(UserError, match="no workspace"):
        open_workspace("proj-c", today=EXPIRES)
    _plain_open_fails(stolen)

    # The receipt on disk: names and sizes, no values.
    on_disk = get_settings().var_dir / receipt.receipt_file
    text = on_disk.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["project_id"] == "proj-c" and data["rule"] == RULE_EXPIRED
    assert stat.S_IMODE(on_disk.stat().st_mode) == 0o600
    for name, *_ in LABS:
        assert pk(name) not in text
    assert "NPU27300" not in text and "K,12" not in text and "sex" not in text
    assert sweep_workspaces(today=AFTER) == []  # idempotent


def test_sweep_removes_workspaces_without_a_permit_and_stray_keys(lab: Path) -> None:
    _build(lab)
    (get_settings().permits_dir / "proj-c.yaml").unlink()  # withdrawn
    stray = key_file("proj-gone")
    stray.write_text("00" * 32 + "\n", encoding="utf-8")
    receipts = {r.project_id: r for r in sweep_workspaces(today=TODAY)}
    assert set(receipts) == {"proj-c", "proj-gone"}
    assert {r.rule for r in receipts.values()} == {"permit-missing"}
    assert receipts["proj-gone"].files == [] and not stray.exists()
    assert not workspace_dir("proj-c").exists()


def test_sweep_keeps_a_workspace_whose_permit_cannot_be_read(lab: Path) -> None:
    """A registered permit that fails validation is not "missing": nothing is deleted."""
    _build(lab)
    registered = get_settings().permits_dir / "proj-c.yaml"
    registered.write_text("project_id: proj-c\nexpires: not-a-date\n", encoding="utf-8")
    with pytest.raises(UserError, match="proj-c") as info:
        sweep_workspaces(today=AFTER)
    assert "nothing of them was deleted" in str(info.value)
    assert workspace_path("proj-c").is_file() and key_file("proj-c").is_file()


def test_remove_workspace_destroys_the_key(lab: Path) -> None:
    _build(lab)
    remove_workspace("proj-c")
    assert not key_file("proj-c").exists() and not workspace_dir("proj-c").exists()


def test_cli_sweep_and_the_dagster_job(lab: Path) -> None:
    import dagster as dg

    from cli import research_cmd
    from pipelines.definitions import build_definitions
    from pipelines.schedules import workspace_sweep_job, workspace_sweep_schedule
    from regionlab.spec import load_domains

    app = typer.Typer()
    app.add_typer(research_cmd.workspace_app, name="workspace")
    runner = CliRunner()
    expired_yesterday = date.today() - timedelta(days=1)
    _build(lab, "proj-cli")
    _build(lab, "proj-job")
    for project in ("proj-cli", "proj-job"):  # let them lapse (the file is the registered copy)
        registered = get_settings().permits_dir / f"{project}.yaml"
        text = registered.read_text(encoding="utf-8")
        registered.write_text(
            text.replace(f"expires: '{EXPIRES}'", f"expires: '{expired_yesterday}'").replace(
                f"expires: {EXPIRES}", f"expires: {expired_yesterday}"
            ),
            encoding="utf-8",
        )
    result = runner.invoke(app, ["workspace", "sweep", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete proj-cli (permit-expired)" in result.output
    assert workspace_path("proj-cli").is_file()

    defs = build_definitions(load_domains())
    assert defs.resolve_job_def("workspace_sweep") is not None
    assert workspace_sweep_schedule.cron_schedule == "45 2 * * *"
    run = workspace_sweep_job.execute_in_process()
    assert run.success
    assert run.output_for_node("sweep_workspaces_op")["workspaces_deleted"] == 2
    assert not workspace_dir("proj-cli").exists() and not workspace_dir("proj-job").exists()
    result = runner.invoke(app, ["workspace", "sweep"])
    assert result.exit_code == 0 and "no expired workspaces" in result.output
    assert workspace_sweep_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
