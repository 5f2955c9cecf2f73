"""Permits and workspaces on a hand-built lake: exactly what the permit allows, no more."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
import typer
import yaml
from typer.testing import CliRunner

from regionlab import lake
from regionlab.errors import UserError
from regionlab.privacy.keys import init_key, load_key
from regionlab.privacy.pseudonym import hmac_hex
from regionlab.research.permits import get_permit, load_permit, register_permit
from regionlab.research.workspace import (
    build_workspace,
    catalog_manifest_path,
    manifest_path,
    open_workspace,
    project_key,
    workspace_path,
)
from tests.research.handbuilt import LABS, VEJLE_COHORT, build_lake, labs_sql, pk

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 2)

# The diabetes cohort of the hand-built lake: DE11 any time, alive at index.
T2D_COHORT = {
    "name": "t2d_all",
    "index_date": "2026-11-01",
    "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
}
T2D_MEMBERS = {"p01", "p02", "p03", "p04", "p05", "p06", "p07", "p09", "p10", "p11"}
PRODUCTS = [
    {"product": "population/persons", "columns": ["person_key", "age_band", "sex"]},
    {"product": "laboratory/lab_results", "columns": ["person_key", "npu_code", "value"]},
    {"product": "medication/prescriptions", "columns": ["atc_code", "start_date"]},
]


def permit_data(project: str, **changes: object) -> dict:
    data = {
        "project_id": project,
        "title": "Test project",
        "applicant": {"name": "Karen Forsker", "email": "karen@example.org"},
        "organisation": "Testuniversitetet",
        "purpose": "Testing workspaces.",
        "legal_basis": "GDPR art. 6(1)(e), 9(2)(j)",
        "products": PRODUCTS,
        "cohort": T2D_COHORT,
        "expires": "2027-06-30",
    }
    data.update(changes)
    return data


def write_permit(folder: Path, project: str, **changes: object) -> Path:
    path = folder / f"{project}.yaml"
    path.write_text(yaml.safe_dump(permit_data(project, **changes)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One hand-built lake for the tests that only read it (publishing takes seconds)."""
    folder = tmp_path_factory.mktemp("shared_lake")
    env = {
        "REGIONLAB_LAKE_CATALOG": f"sqlite:{folder / 'catalog.sqlite'}",
        "REGIONLAB_LAKE_DATA": str(folder / "data"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        build_lake()
    return env


def _key_and_folder(var_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key_file = var_dir / "secrets" / "pseudonym.key"
    init_key(key_file)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(key_file))
    monkeypatch.delenv("REGIONLAB_KEY", raising=False)
    folder = tmp_path / "permits"
    folder.mkdir()
    return folder


@pytest.fixture
def lab(
    var_dir: Path, shared_lake: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """The shared read-only lake, a fresh var/ with a key, and a folder for permit files."""
    for name, value in shared_lake.items():
        monkeypatch.setenv(name, value)
    return _key_and_folder(var_dir, tmp_path, monkeypatch)


@pytest.fixture
def own_lab(var_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Like ``lab`` but with a lake of its own, for tests that publish."""
    monkeypatch.delenv("REGIONLAB_LAKE_CATALOG", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_DATA", raising=False)
    folder = _key_and_folder(var_dir, tmp_path, monkeypatch)
    build_lake()
    return folder


def tables_of(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() ORDER BY column_index"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def names_by_project_key(project: str) -> dict[str, str]:
    """Project pseudonym → test person name, computed independently of the workspace code."""
    key = project_key(project, load_key())
    return {hmac_hex(key, pk(f"p{i:02d}")): f"p{i:02d}" for i in range(1, 13)}


def test_workspace_holds_exactly_what_the_permit_allows(lab: Path) -> None:
    register_permit(write_permit(lab, "proj-a"), today=TODAY)
    manifest = build_workspace("proj-a", today=TODAY)
    con = open_workspace("proj-a", today=TODAY)
    try:
        tables = tables_of(con)
        assert tables == {
            "population.persons": ["person_key", "age_band", "sex"],
            "laboratory.lab_results": ["person_key", "npu_code", "value"],
            "medication.prescriptions": ["atc_code", "start_date"],
        }
        names = names_by_project_key("proj-a")
        persons = {
            r[0] for r in con.execute("SELECT person_key FROM population.persons").fetchall()
        }
        assert {names[k] for k in persons} == T2D_MEMBERS
        lab_keys = [
            r[0] for r in con.execute("SELECT person_key FROM laboratory.lab_results").fetchall()
        ]
        assert {names[k] for k in lab_keys} <= T2D_MEMBERS
        expected_labs = [r for r in LABS if r[0] in T2D_MEMBERS]
        assert len(lab_keys) == len(expected_labs)
        # No source person key survives anywhere in the file.
        source_keys = {pk(f"p{i:02d}") for i in range(1, 13)}
        assert not persons & source_keys and not set(lab_keys) & source_keys
        # Prescriptions of cohort members only (p01, p03, p11), without their keys.
        rx = con.execute("SELECT atc_code FROM medication.prescriptions ORDER BY 1").fetchall()
        assert [r[0] for r in rx] == ["A10BA02", "A10BJ02", "A10BJ06"]
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM population.persons")
    finally:
        con.close()
    assert manifest.cohort_persons == len(T2D_MEMBERS)
    assert {p.product: p.rows for p in manifest.products} == {
        "population/persons": len(T2D_MEMBERS),
        "laboratory/lab_results": len(expected_labs),
        "medication/prescriptions": 3,
    }
    assert manifest.products[0].rekeyed_columns == ["person_key"]
    on_disk = json.loads(manifest_path("proj-a").read_text(encoding="utf-8"))
    assert on_disk["lake_snapshot"] == manifest.lake_snapshot
    assert on_disk["permit"]["project_id"] == "proj-a"
    assert on_disk["products"][1]["columns"] == ["person_key", "npu_code", "value"]
    assert "built_at" in on_disk and on_disk["project_key_id"] == manifest.project_key_id
    # The catalogue copy hides small counts (3 prescriptions).
    catalogue = json.loads(catalog_manifest_path("proj-a").read_text(encoding="utf-8"))
    assert catalogue["products"][2]["rows"] == "<5"
    assert catalogue["cohort_persons"] == len(T2D_MEMBERS)


def test_pseudonyms_differ_across_projects_and_are_stable_within_one(lab: Path) -> None:
    register_permit(write_permit(lab, "proj-a"), today=TODAY)
    register_permit(write_permit(lab, "proj-b"), today=TODAY)
    build_workspace("proj-a", today=TODAY)
    build_workspace("proj-b", today=TODAY)

    def keys(project: str) -> tuple[set[str], set[str]]:
        con = open_workspace(project, today=TODAY)
        try:
            persons = {
                r[0] for r in con.execute("SELECT person_key FROM population.persons").fetchall()
            }
            labs = {
                r[0]
                for r in con.execute("SELECT person_key FROM laboratory.lab_results").fetchall()
            }
        finally:
            con.close()
        return persons, labs

    a_persons, a_labs = keys("proj-a")
    b_persons, b_labs = keys("proj-b")
    assert len(a_persons) == len(b_persons) == len(T2D_MEMBERS)
    assert not a_persons & b_persons  # no shared pseudonym between the projects
    assert a_labs <= a_persons and b_labs <= b_persons  # joinable inside a project
    build_workspace("proj-a", today=TODAY)
    assert keys("proj-a") == (a_persons, a_labs)  # a rebuild keeps the pseudonyms


def test_row_ids_are_rekeyed_too(lab: Path) -> None:
    products = [
        {
            "product": "diagnoses/diagnoses",
            "columns": ["diagnosis_id", "contact_id", "diagnosis_code"],
        }
    ]
    register_permit(write_permit(lab, "proj-ids", products=products), today=TODAY)
    manifest = build_workspace("proj-ids", today=TODAY)
    assert manifest.products[0].rekeyed_columns == ["diagnosis_id", "contact_id"]
    con = open_workspace("proj-ids", today=TODAY)
    ids = {r[0] for r in con.execute("SELECT contact_id FROM diagnoses.diagnoses").fetchall()}
    con.close()
    assert len(ids) == len(T2D_MEMBERS)  # one DE11 diagnosis each
    assert not any(i.startswith("C0") for i in ids)


def test_pinned_snapshot_holds_after_a_later_publish(own_lab: Path) -> None:
    register_permit(write_permit(own_lab, "proj-a"), today=TODAY)
    first = build_workspace("proj-a", today=TODAY)
    con = lake.connect()
    extra = [("p01", "NPU27300", 99.0, "2026-10-30 08:00:00")]
    later = lake.publish(
        con, "laboratory", "lab_results", labs_sql(extra, start=100), mode="append"
    )
    con.close()
    assert later > first.lake_snapshot

    pinned = build_workspace("proj-a", snapshot=first.lake_snapshot, today=TODAY)
    assert pinned.lake_snapshot == first.lake_snapshot
    ws = open_workspace("proj-a", today=TODAY)
    values = sorted(r[0] for r in ws.execute("SELECT value FROM laboratory.lab_results").fetchall())
    ws.close()
    assert 99.0 not in values
    assert {p.product: p.rows for p in pinned.products} == {
        p.product: p.rows for p in first.products
    }

    newest = build_workspace("proj-a", today=TODAY)
    assert newest.lake_snapshot == later
    ws = open_workspace("proj-a", today=TODAY)
    assert (
        ws.execute("SELECT count(*) FROM laboratory.lab_results WHERE value = 99").fetchone()[0]
        == 1
    )
    ws.close()


def test_expiry_is_enforced(lab: Path) -> None:
    with pytest.raises(UserError, match="expires: 2026-11-02 is not in the future"):
        register_permit(write_permit(lab, "proj-old", expires="2026-11-02"), today=TODAY)
    register_permit(write_permit(lab, "proj-a", expires="2026-12-31"), today=TODAY)
    build_workspace("proj-a", today=TODAY)
    open_workspace("proj-a", today=date(2026, 12, 31)).close()  # valid through its last day
    with pytest.raises(UserError, match="expired on 2026-12-31"):
        open_workspace("proj-a", today=date(2027, 1, 1))
    with pytest.raises(UserError, match="expired"):
        build_workspace("proj-a", today=date(2027, 1, 1))


def test_reregistered_permit_needs_a_rebuild(lab: Path) -> None:
    register_permit(write_permit(lab, "proj-a"), today=TODAY)
    build_workspace("proj-a", today=TODAY)
    with pytest.raises(UserError, match="already registered"):
        register_permit(write_permit(lab, "proj-a"), today=TODAY)
    narrower = PRODUCTS[:1]
    register_permit(write_permit(lab, "proj-a", products=narrower), replace=True, today=TODAY)
    with pytest.raises(UserError, match="earlier version of its permit"):
        open_workspace("proj-a", today=TODAY)
    build_workspace("proj-a", today=TODAY)
    con = open_workspace("proj-a", today=TODAY)
    assert list(tables_of(con)) == ["population.persons"]
    con.close()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"products": [{"product": "lab/results", "columns": ["value"]}]}, "products[0].product"),
        (
            {"products": [{"product": "population/persons", "columns": ["cpr", "sex"]}]},
            "products[0].columns: cpr not published",
        ),
        ({"cohort": {"name": "x", "include": [{"kind": "diagnosis", "codes": "DX9"}]}}, "DX9"),
        ({"cohort": "no/such/cohort.yaml"}, "cohort: file"),
        ({"project_id": "Bad Id"}, "project_id"),
        ({"applicant": {"name": "K"}}, "applicant.email"),
    ],
)
def test_invalid_permits_name_the_field(lab: Path, changes: dict, expected: str) -> None:
    path = write_permit(lab, "proj-x", **changes)
    with pytest.raises(UserError, match="proj-x.yaml") as info:
        load_permit(path)
    assert expected in str(info.value)


def test_cohort_file_is_inlined_at_registration(lab: Path, tmp_path: Path) -> None:
    cohort_file = tmp_path / "vejle.yaml"
    cohort_file.write_text(yaml.safe_dump(VEJLE_COHORT), encoding="utf-8")
    register_permit(write_permit(lab, "proj-v", cohort=str(cohort_file)), today=TODAY)
    cohort_file.write_text("name: changed\n", encoding="utf-8")  # later edits do not matter
    permit = get_permit("proj-v")
    assert permit.inline_cohort.name == "t2d_vejle"
    manifest = build_workspace("proj-v", today=TODAY)
    assert manifest.cohort_persons == 3


def test_example_permits_are_valid() -> None:
    files = sorted((REPO / "permits").glob("*.yaml"))
    assert len(files) >= 1
    for path in files:
        permit = load_permit(path)
        assert permit.project_id == path.stem
        assert permit.expires > date(2026, 11, 1)


def test_cli_permit_apply_approve_workspace_build_and_output_check(
    lab: Path, tmp_path: Path
) -> None:
    from cli import research_cmd
    from service.app import token_store
    from service.roles import Role

    app = typer.Typer()
    app.add_typer(research_cmd.permit_app, name="permit")
    app.add_typer(research_cmd.workspace_app, name="workspace")
    app.add_typer(research_cmd.output_app, name="output")
    runner = CliRunner()
    path = write_permit(lab, "proj-cli", expires=(date.today() + timedelta(days=30)).isoformat())
    tokens = token_store()
    researcher = {"REGIONLAB_TOKEN": tokens.issue("anna", Role.researcher)}
    officer = {"REGIONLAB_TOKEN": tokens.issue("olga", Role.access_officer)}
    result = runner.invoke(app, ["permit", "apply", str(path)], env=researcher)
    assert result.exit_code == 0, result.output
    assert "applied for proj-cli as anna" in result.output
    result = runner.invoke(app, ["permit", "approve", "proj-cli"], env=researcher)
    assert result.exit_code == 1 and "only the access-officer role" in str(result.exception)
    assert runner.invoke(app, ["permit", "approve", "proj-cli"], env={}).exit_code == 1
    result = runner.invoke(app, ["permit", "approve", "proj-cli"], env=officer)
    assert result.exit_code == 0, result.output
    assert "approved and registered permit proj-cli" in result.output
    result = runner.invoke(app, ["permit", "list"], env=officer)
    assert result.exit_code == 0, result.output
    assert "approved" in result.output and "proj-cli" in result.output
    result = runner.invoke(app, ["workspace", "build", "proj-cli"])
    assert result.exit_code == 0, result.output
    assert "laboratory.lab_results" in result.output
    assert workspace_path("proj-cli").is_file()

    # A result table with a planted small cell and a planted CPR number.
    bad = tmp_path / "result.csv"
    pl.DataFrame(
        {"sex": ["K", "M", "K"], "note": ["ok", "010180-1234", "ok"], "n": [12, 3, 40]}
    ).write_csv(bad)
    result = runner.invoke(app, ["output", "check", str(bad)])
    assert result.exit_code == 1
    assert "[small_cell] column 'n'" in result.output
    assert "[identifier] column 'note'" in result.output
    assert "010180-1234" not in result.output  # the report never repeats the value
    good = tmp_path / "good.parquet"
    pl.DataFrame({"sex": ["K", "M"], "n": [12, 30]}).write_parquet(good)
    result = runner.invoke(app, ["output", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
