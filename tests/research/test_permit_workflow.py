"""Permit applications: separation of duties, registration on approval only, EHDS clocks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.research import permit_workflow as wf
from regionlab.research.audit_store import AuditStore, open_store
from regionlab.research.permits import get_permit, load_permit, registered_path

REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 30)
ANNA = wf.Actor("anna", wf.RESEARCHER)
BO = wf.Actor("bo", wf.RESEARCHER)
OLGA = wf.Actor("olga", wf.ACCESS_OFFICER)


@pytest.fixture
def store(var_dir: Path) -> AuditStore:
    return open_store()


def _permit(project: str = "t2d-hba1c"):  # type: ignore[no-untyped-def]
    return load_permit(REPO / "permits" / f"{project}.yaml")


def test_only_an_officers_approval_registers(store: AuditStore) -> None:
    app = wf.apply(ANNA, _permit(), today=DAY, audit=store)
    assert (app.status, app.applicant) == ("pending", "anna")
    assert not registered_path("t2d-hba1c").exists()
    with pytest.raises(UserError, match="only the access-officer role"):
        wf.approve(BO, "t2d-hba1c", today=DAY, audit=store)
    with pytest.raises(UserError, match="only the access-officer role"):
        wf.approve(ANNA, "t2d-hba1c", today=DAY, audit=store)
    assert not registered_path("t2d-hba1c").exists()
    done = wf.approve(OLGA, "t2d-hba1c", today=DAY, audit=store)
    assert (done.status, done.decided_by, done.decided_on) == ("approved", "olga", DAY)
    assert get_permit("t2d-hba1c").fingerprint() == app.permit.fingerprint()
    events = [(e.user, e.action, e.subject) for e in store.entries()]
    assert events == [
        ("anna", "permit.apply", "t2d-hba1c"),
        ("olga", "permit.approve", "t2d-hba1c"),
    ]
    assert store.verify().ok


def test_an_officer_cannot_apply_nor_decide_twice(store: AuditStore) -> None:
    with pytest.raises(UserError, match="only the researcher role"):
        wf.apply(OLGA, _permit(), today=DAY, audit=store)
    wf.apply(ANNA, _permit(), today=DAY, audit=store)
    with pytest.raises(UserError, match="already has a pending application"):
        wf.apply(BO, _permit(), today=DAY, audit=store)
    wf.refuse(OLGA, "t2d-hba1c", reason="purpose too broad", today=DAY, audit=store)
    with pytest.raises(UserError, match="not pending"):
        wf.approve(OLGA, "t2d-hba1c", today=DAY, audit=store)


def test_refusal_registers_nothing_and_needs_a_reason(store: AuditStore) -> None:
    wf.apply(ANNA, _permit(), today=DAY, audit=store)
    with pytest.raises(UserError, match="reason"):
        wf.refuse(OLGA, "t2d-hba1c", reason=" ", today=DAY, audit=store)
    refused = wf.refuse(OLGA, "t2d-hba1c", reason="purpose too broad", today=DAY, audit=store)
    assert (refused.status, refused.reason) == ("refused", "purpose too broad")
    assert not registered_path("t2d-hba1c").exists()
    last = store.entries()[-1]
    assert (last.action, last.data["details"]["reason"]) == ("permit.refuse", "purpose too broad")


def test_replace_is_an_officers_explicit_act(store: AuditStore) -> None:
    wf.apply(ANNA, _permit(), today=DAY, audit=store)
    wf.approve(OLGA, "t2d-hba1c", today=DAY, audit=store)
    wider = _permit().model_copy(update={"expires": date(2031, 12, 31)})
    wf.apply(ANNA, wider, today=DAY, audit=store)  # the applicant can only ask
    assert get_permit("t2d-hba1c").expires == date(2030, 12, 31)
    with pytest.raises(UserError, match="--replace"):
        wf.approve(OLGA, "t2d-hba1c", today=DAY, audit=store)
    assert get_permit("t2d-hba1c").expires == date(2030, 12, 31)
    with pytest.raises(UserError, match="only the access-officer role"):
        wf.approve(ANNA, "t2d-hba1c", replace=True, today=DAY, audit=store)
    wf.approve(OLGA, "t2d-hba1c", replace=True, today=DAY, audit=store)
    assert get_permit("t2d-hba1c").expires == date(2031, 12, 31)
    assert store.entries()[-1].action == "permit.replace"


def test_clocks() -> None:
    assert wf.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert wf.add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert wf.add_months(date(2026, 1, 15), 3) == date(2026, 4, 15)
    assert wf.add_months(date(2026, 10, 31), 3) == date(2027, 1, 31)


def test_decision_and_completion_deadlines(store: AuditStore) -> None:
    app = wf.apply(ANNA, _permit(), today=DAY, audit=store)
    assert (app.due_what, app.due) == ("decision", date(2027, 2, 28))
    assert not app.overdue(date(2027, 2, 28)) and app.overdue(date(2027, 3, 1))
    later = date(2026, 12, 10)
    told = wf.incomplete(
        OLGA, "t2d-hba1c", reason="add the data management plan", today=later, audit=store
    )
    assert (told.status, told.due_what, told.due) == ("incomplete", "completion", date(2027, 1, 7))
    assert told.overdue(date(2027, 1, 8))
    with pytest.raises(UserError, match="belongs to anna"):
        wf.apply(BO, _permit(), today=later, audit=store)
    completed = wf.apply(ANNA, _permit(), today=date(2027, 1, 5), audit=store)
    assert completed.submitted_on == DAY  # still the first submission
    assert (completed.due_what, completed.due) == ("decision", date(2027, 4, 5))
    assert [a.project_id for a in wf.list_applications(ANNA)] == ["t2d-hba1c"]
    assert wf.list_applications(BO) == []
    assert len(wf.list_applications(OLGA)) == 1


def test_an_application_is_checked_against_the_specs(store: AuditStore) -> None:
    from regionlab.research.permits import ProductGrant

    bad = _permit().model_copy(
        update={"products": [ProductGrant(product="population/persons", columns=["cpr"])]}
    )
    with pytest.raises(UserError, match="cpr not published"):
        wf.apply(ANNA, bad, today=DAY, audit=store)
    assert wf.list_applications(OLGA) == [] and store.entries() == []


def test_permit_list_shows_due_dates_and_overdue(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from cli import research_cmd
    from service.app import token_store
    from service.roles import Role

    wf.apply(ANNA, _permit(), today=date(2025, 1, 10), audit=store)  # decision was due 2025-04-10
    wf.apply(BO, _permit("readmissions-vejle"), audit=store)  # applied today: not overdue
    app = typer.Typer()
    app.add_typer(research_cmd.permit_app, name="permit")
    token = token_store().issue("olga", Role.access_officer)
    result = CliRunner().invoke(app, ["permit", "list"], env={"REGIONLAB_TOKEN": token})
    assert result.exit_code == 0, result.output
    lines = {ln.split()[1]: ln for ln in result.output.splitlines() if "│ " in ln and "-" in ln}
    assert "decision 2025-04-10 (overdue)" in lines["t2d-hba1c"]
    assert "overdue" not in lines["readmissions-vejle"]
    assert "pending" in lines["readmissions-vejle"]
