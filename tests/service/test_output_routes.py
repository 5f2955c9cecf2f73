"""The airlock over HTTP: submit, auto-release, queue, decide, fetch; roles and audit.

Real tokens, the real app and audit store under this test's var/; the CLI
test runs `regionlab output …` against a service in its own process.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from regionlab.research import permit_workflow as wf
from regionlab.research.audit_store import open_store
from regionlab.research.client import magnitude_table
from regionlab.research.permits import load_permit
from service.app import builtin_verifier, create_app
from service.roles import Role
from service.tokens import TokenStore
from tests.research.airlock_corpus import CASES

REPO = Path(__file__).resolve().parents[2]
PROJECT = "t2d-hba1c"
Http = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture
def http(var_dir: Path) -> Http:
    """anna holds the approved permit of t2d-hba1c; bo is another researcher; cleo and
    carl are output checkers; olga is the access officer."""
    tokens = TokenStore(var_dir / "service" / "identities.sqlite")
    people = {
        "anna": Role.researcher,
        "bo": Role.researcher,
        "olga": Role.access_officer,
        "cleo": Role.output_checker,
        "carl": Role.output_checker,
        "dora": Role.dpo,
    }
    headers = {
        name: {"Authorization": f"Bearer {tokens.issue(name, role)}"}
        for name, role in people.items()
    }
    client = TestClient(create_app([builtin_verifier(tokens)]))
    body = load_permit(REPO / "permits" / f"{PROJECT}.yaml").model_dump(mode="json")
    assert client.post("/permits/applications", json=body, headers=headers["anna"]).is_success
    approved = client.post(f"/permits/applications/{PROJECT}/approve", headers=headers["olga"])
    assert approved.is_success, approved.text
    return client, headers


def _case(name: str) -> tuple[str, bytes]:
    case = next(c for c in CASES if c.name == name)
    return case.filename, case.data


def _submit(client: TestClient, who: dict[str, str], name: str, data: bytes, **extra: object):  # type: ignore[no-untyped-def]
    body = {"project_id": PROJECT, "filename": name,
            "content_base64": base64.b64encode(data).decode(), **extra}  # fmt: skip
    return client.post("/outputs", json=body, headers=who)


def test_a_safe_output_is_released_with_a_manifest(http: Http) -> None:
    client, h = http
    name, data = _case("long-frequency")
    sub = _submit(client, h["anna"], name, data)
    assert sub.status_code == 200, sub.text
    assert (sub.json()["status"], sub.json()["verdict"]) == ("released", "pass")
    assert sub.json()["decided_by"] == "airlock (auto)"
    got = client.get(f"/outputs/{sub.json()['id']}/released", headers=h["anna"]).json()
    released = base64.b64decode(got["content_base64"])
    manifest = got["manifest"]
    assert manifest["sha256_submitted"] == hashlib.sha256(data).hexdigest()
    assert manifest["sha256_released"] == hashlib.sha256(released).hexdigest()
    assert manifest["checks"]["threshold"] == 5 and manifest["checks"]["nk_rule"]["k"] == 0.9
    assert manifest["decision"]["status"] == "released"
    assert manifest["submitted_by"] == "anna" and manifest["table_class"] == "frequency"
    # bo is a researcher too, but not the submitter: no access to anna's output
    assert client.get(f"/outputs/{sub.json()['id']}/released", headers=h["bo"]).status_code == 409
    actions = [(e.user, e.action) for e in open_store().entries() if e.action.startswith("air")]
    assert actions == [("anna", "airlock.submit"), ("anna", "airlock.release")]


def test_a_disclosive_output_is_queued_and_a_checker_decides(http: Http) -> None:
    client, h = http
    name, data = _case("wide-crosstab")
    sub = _submit(client, h["anna"], name, data).json()
    assert (sub["status"], sub["verdict"]) == ("pending", "fail")
    assert {f["kind"] for f in sub["findings"]} == {"small_cell"}
    # a researcher cannot decide, nor fetch a pending output
    reason = {"reason": "small cells"}
    assert (
        client.post(f"/outputs/{sub['id']}/approve", json=reason, headers=h["anna"]).status_code
        == 403
    )
    assert client.get(f"/outputs/{sub['id']}/released", headers=h["anna"]).status_code == 409
    queue = client.get("/outputs", params={"state": "pending"}, headers=h["cleo"]).json()
    assert [s["id"] for s in queue] == [sub["id"]]
    looked = client.get(f"/outputs/{sub['id']}/submitted", headers=h["cleo"]).json()
    assert base64.b64decode(looked["content_base64"]) == data  # the checker sees the file
    assert client.get(f"/outputs/{sub['id']}/submitted", headers=h["anna"]).status_code == 403
    refused = client.post(f"/outputs/{sub['id']}/refuse", json=reason, headers=h["cleo"])
    assert not list(Path(wf.applications_dir().parent, "airlock").rglob(name))  # deleted
    assert refused.json()["status"] == "refused" and refused.json()["decided_by"] == "cleo"
    again = client.post(f"/outputs/{sub['id']}/approve", json={"reason": "x"}, headers=h["carl"])
    assert again.status_code == 409 and "refused" in again.json()["detail"]
    # a structural zero is reviewed; the checker releases it with a reason
    name, data = _case("structural-zero")
    zero = _submit(client, h["anna"], name, data).json()
    assert (zero["status"], zero["verdict"]) == ("pending", "review")
    ok = client.post(
        f"/outputs/{zero['id']}/approve", json={"reason": "structural zero"}, headers=h["carl"]
    )
    assert ok.json()["status"] == "released" and ok.json()["reason"] == "structural zero"
    mine = client.get("/outputs", headers=h["anna"]).json()
    assert {s["status"] for s in mine} == {"refused", "released"}
    assert client.get("/outputs", headers=h["bo"]).json() == []
    entries = [e for e in open_store().entries() if e.action.startswith("airlock")]
    assert [(e.user, e.action) for e in entries] == [
        ("anna", "airlock.submit"),
        ("cleo", "airlock.refuse"),
        ("anna", "airlock.submit"),
        ("carl", "airlock.release"),
    ]
    assert entries[1].data["details"]["reason"] == "small cells"
    assert {e.project for e in entries} == {PROJECT}
    assert "3" not in json.dumps([e.data["details"].get("findings") for e in entries])


def test_only_the_permit_holder_submits_while_the_permit_is_valid(http: Http) -> None:
    client, h = http
    name, data = _case("long-frequency")
    other = _submit(client, h["bo"], name, data)
    assert other.status_code == 409 and "does not hold its permit" in other.json()["detail"]
    assert _submit(client, h["cleo"], name, data).status_code == 403
    assert _submit(client, h["olga"], name, data).status_code == 403
    # expire the permit: nothing leaves an expired project
    app = wf.get_application(PROJECT)
    permit = app.permit.model_copy(update={"expires": date.today() - timedelta(days=1)})
    path = wf.applications_dir() / f"{PROJECT}.json"
    path.write_text(app.model_copy(update={"permit": permit}).model_dump_json(), "utf-8")
    expired = _submit(client, h["anna"], name, data)
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]


def test_an_extension_under_review_does_not_stop_the_holders_outputs(http: Http) -> None:
    """Applying for an extension makes the application pending for up to three months;
    the registered permit stays in force and its holder's outputs still leave — only hers."""
    client, h = http
    body = load_permit(REPO / "permits" / f"{PROJECT}.yaml").model_dump(mode="json")
    body["expires"] = (date.fromisoformat(body["expires"]) + timedelta(days=60)).isoformat()
    assert client.post("/permits/applications", json=body, headers=h["anna"]).is_success
    assert wf.get_application(PROJECT).status == "pending"
    name, data = _case("long-frequency")
    sub = _submit(client, h["anna"], name, data)
    assert sub.status_code == 200 and sub.json()["status"] == "released", sub.text
    other = _submit(client, h["bo"], name, data)
    assert other.status_code == 409 and "does not hold its permit" in other.json()["detail"]


def test_the_threshold_can_be_raised_never_lowered(http: Http) -> None:
    client, h = http
    low = _submit(client, h["anna"], "t.csv", b"sex,n\nF,3\nM,40\n", threshold=1)
    assert low.status_code == 409 and "floor of 5" in low.json()["detail"]
    name, data = _case("long-frequency")  # counts 27..52
    high = _submit(client, h["anna"], name, data, threshold=30).json()
    assert high["status"] == "pending" and high["threshold"] == 30


def test_differencing_against_the_projects_released_outputs(http: Http) -> None:
    client, h = http
    earlier = b"municipality,n\nVejle,41\nKolding,27\nFredericia,19\n"
    first = _submit(client, h["anna"], "all_ages.csv", earlier).json()
    assert first["status"] == "released"
    name, data = _case("differencing-same-cells")
    second = _submit(client, h["anna"], name, data).json()
    assert second["status"] == "pending"
    assert "differencing" in {f["kind"] for f in second["findings"]}
    assert second["compared_with"] == [f"all_ages.csv ({first['id']})"]


def test_a_queued_output_is_compared_with_outputs_released_after_it(http: Http) -> None:
    """A queued, B auto-released, approve A: A is checked against B at approval."""
    client, h = http
    name, data = _case("structural-zero")  # F,T2D = 87: queued for review
    queued = _submit(client, h["anna"], name, data).json()
    assert queued["status"] == "pending"
    later = b"sex,diagnosis,n\nM,prostate cancer,41\nF,T2D,84\nM,T2D,93\n"  # 3 fewer
    released = _submit(client, h["anna"], "later.csv", later).json()
    assert released["status"] == "released" and released["compared_with"] == []
    approve = client.post(
        f"/outputs/{queued['id']}/approve", json={"reason": "structural zero"}, headers=h["cleo"]
    )
    assert approve.status_code == 409 and "differencing" in approve.json()["detail"]
    again = client.get("/outputs", params={"state": "pending"}, headers=h["cleo"]).json()
    assert [s["id"] for s in again] == [queued["id"]]
    assert "differencing" in {f["kind"] for f in again[0]["findings"]}
    assert again[0]["verdict"] == "fail"
    assert again[0]["compared_with"] == [f"later.csv ({released['id']})"]
    assert not list(Path(wf.applications_dir().parent, "airlock").rglob(f"{queued['id']}/released"))


def test_an_output_queued_before_the_permit_expired_is_not_released_after(http: Http) -> None:
    client, h = http
    name, data = _case("structural-zero")
    queued = _submit(client, h["anna"], name, data).json()
    assert queued["status"] == "pending"
    app = wf.get_application(PROJECT)
    permit = app.permit.model_copy(update={"expires": date.today() - timedelta(days=1)})
    path = wf.applications_dir() / f"{PROJECT}.json"
    path.write_text(app.model_copy(update={"permit": permit}).model_dump_json(), "utf-8")
    approve = client.post(
        f"/outputs/{queued['id']}/approve", json={"reason": "structural zero"}, headers=h["cleo"]
    )
    assert approve.status_code == 409 and "expired" in approve.json()["detail"]
    pending = client.get("/outputs", params={"state": "pending"}, headers=h["cleo"]).json()
    assert [s["id"] for s in pending] == [queued["id"]]


def test_a_parquet_file_with_nested_columns_is_a_clear_refusal(http: Http) -> None:
    client, h = http
    out = io.BytesIO()
    pl.DataFrame(
        {"sex": ["F", "M"], "n": [40, 52], "codes": [["E11", "E10"], ["E11"]]}
    ).write_parquet(out)
    sub = _submit(client, h["anna"], "nested.parquet", out.getvalue())
    assert sub.status_code == 409, sub.text
    detail = sub.json()["detail"]
    assert "codes" in detail and "E11" not in detail


def test_magnitude_tables_from_the_client_helper(http: Http, tmp_path: Path) -> None:
    client, h = http
    rows = pl.DataFrame({"dept": ["a"] * 20 + ["b"] * 20, "cost": [100.0 + i for i in range(40)]})
    table = magnitude_table(rows, ["dept"], "cost", stat="sum")
    safe = _submit(client, h["anna"], "cost.csv", table.write_csv().encode()).json()
    assert safe["status"] == "released", safe["findings"]
    got = client.get(f"/outputs/{safe['id']}/released", headers=h["anna"]).json()
    released = base64.b64decode(got["content_base64"]).decode()
    assert released.splitlines()[0] == "dept,n,sum_cost"  # the evidence stays inside
    dominated = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(1e7).otherwise(pl.col("cost")).alias("cost")
    )
    table = magnitude_table(dominated, ["dept"], "cost", stat="sum")
    held = _submit(client, h["anna"], "cost2.csv", table.write_csv().encode()).json()
    assert held["status"] == "pending"
    assert {f["kind"] for f in held["findings"]} == {"dominance"}


@pytest.mark.slow
def test_cli_output_submit_list_refuse_fetch(var_dir: Path, tmp_path: Path) -> None:
    from cli import research_cmd
    from regionlab.research.client import ServiceClient
    from service.app import token_store
    from tests.service.live import start_server, stop_server

    app = typer.Typer()
    app.add_typer(research_cmd.output_app, name="output")
    runner = CliRunner()
    tokens = token_store()
    anna, olga = tokens.issue("anna", Role.researcher), tokens.issue("olga", Role.access_officer)
    cleo = tokens.issue("cleo", Role.output_checker)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(_case("wide-crosstab-safe")[1])
    bad.write_bytes(_case("semicolon-csv")[1])
    low = runner.invoke(app, ["output", "check", str(bad), "--threshold", "1"])
    assert low.exit_code == 1 and "floor" in str(low.exception)
    proc, url = start_server(var_dir)
    try:
        body = load_permit(REPO / "permits" / f"{PROJECT}.yaml").model_dump(mode="json")
        ServiceClient(url, anna).apply(body)
        ServiceClient(url, olga).decide(PROJECT, "approve")
        as_anna = {"REGIONLAB_SERVICE_URL": url, "REGIONLAB_TOKEN": anna}
        as_cleo = {**as_anna, "REGIONLAB_TOKEN": cleo}
        result = runner.invoke(app, ["output", "submit", PROJECT, str(good)], env=as_anna)
        assert result.exit_code == 0 and "released" in result.output, result.output
        released_id = result.output.split(":")[0].strip()
        result = runner.invoke(app, ["output", "submit", PROJECT, str(bad)], env=as_anna)
        assert "queued for an output checker" in result.output, result.output
        assert "[fail:small_cell] column 'antal'" in result.output
        queued_id = result.output.split(":")[0].strip()
        result = runner.invoke(app, ["output", "list", "--state", "pending"], env=as_cleo)
        assert queued_id in result.output, result.output
        result = runner.invoke(app, ["output", "refuse", queued_id, "--reason", "a 3"], env=as_anna)
        assert result.exit_code == 1 and "not allowed" in str(result.exception)
        result = runner.invoke(
            app, ["output", "refuse", queued_id, "--reason", "cell of 3"], env=as_cleo
        )
        assert result.exit_code == 0 and "refused" in result.output, result.output
        out = tmp_path / "out"
        result = runner.invoke(app, ["output", "fetch", released_id, "--to", str(out)], env=as_anna)
        assert result.exit_code == 0, result.output
        assert (out / "good.csv").read_bytes() == good.read_bytes()
        manifest = json.loads((out / "good.csv.manifest.json").read_text("utf-8"))
        assert manifest["decision"]["by"] == "airlock (auto)"
    finally:
        stop_server(proc)


def test_the_zeros_policy_is_the_services(http: Http, var_dir: Path) -> None:
    """``airlock_zeros = "allow"`` in the service's own settings releases a structural zero;
    the default queues it (see test_a_disclosive_output_is_queued_and_a_checker_decides)."""
    _, h = http
    (var_dir / "service" / "settings.toml").write_text('airlock_zeros = "allow"\n', "utf-8")
    tokens = TokenStore(var_dir / "service" / "identities.sqlite")
    client = TestClient(create_app([builtin_verifier(tokens)]))
    name, data = _case("structural-zero")
    sub = _submit(client, h["anna"], name, data).json()
    assert (sub["status"], sub["zeros"]) == ("released", "allow")
    (var_dir / "service" / "settings.toml").write_text('airlock_zeros = "fail"\n', "utf-8")
    client = TestClient(create_app([builtin_verifier(tokens)]))
    sub = _submit(client, h["anna"], "zero2.csv", data).json()
    assert (sub["status"], sub["verdict"]) == ("pending", "fail")


@pytest.mark.parametrize(
    ("project", "filename", "expected"),
    [
        ("../t2d-hba1c", "a.csv", "not a project id"),
        (PROJECT, "../a.csv", "file name"),
        (PROJECT, "a.csv\n", "file name"),
        (PROJECT, "a.xlsx", "file name"),
    ],
)
def test_project_and_file_names_are_checked(
    http: Http, project: str, filename: str, expected: str
) -> None:
    client, h = http
    body = {"project_id": project, "filename": filename,
            "content_base64": base64.b64encode(b"sex,n\nF,40\n").decode()}  # fmt: skip
    response = client.post("/outputs", json=body, headers=h["anna"])
    assert response.status_code == 409 and expected in response.json()["detail"]
