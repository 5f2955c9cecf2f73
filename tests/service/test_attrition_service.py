"""``POST /feasibility/attrition``: attrition per inclusion rule, through the service only.

Consecutive attrition steps are the textbook differencing pair; the service
shows them only through the defence's ``protect_steps`` and records each
attrition query (answered or refused) in the audit store under the token's name.
"""

from __future__ import annotations

from pathlib import Path

from regionlab.research.audit_store import FEASIBILITY, open_store
from service.roles import Role
from service.tokens import TokenStore
from tests.research.handbuilt import VEJLE_COHORT, build_lake
from tests.service.conftest import client_for


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_attrition_is_suppressed_guarded_and_audited(
    var_dir: Path, store: TokenStore, tokens: dict[Role, str]
) -> None:
    """t2d_vejle: 8 pass the person filters, 6 have DE11, 4 the HbA1c, 3 are left."""
    build_lake()
    settings = var_dir / "service" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("[disclosure]\nenabled = true\nbudget = 2\n", encoding="utf-8")
    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    answer = client.post("/feasibility/attrition", json={"cohort": VEJLE_COHORT}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"] == "anna" and body["threshold"] == 5
    labels = [s["label"] for s in body["steps"]]
    assert labels == [
        "person filters",
        "include[0] diagnosis",
        "include[1] lab",
        "exclude[0] medication",
    ]
    values = [s["display"] for s in body["steps"]]
    # The drop of 2 (8 -> 6) reads 0; 4 and 3 are hidden; shown counts are perturbed.
    assert values[0] == values[1] == values[2] and values[3] == "<5"
    assert isinstance(values[0], int) and values[0] % 5 == 0
    entry = open_store().entries(action=FEASIBILITY)[-1]
    assert entry.user == "anna" and entry.data["dimensions"] == ["attrition"]
    assert entry.data["answer"]["cells"]["include[1] lab"] == values[2]
    # A lower threshold than the floor is refused; a steward may not ask at all.
    low = client.post(
        "/feasibility/attrition", json={"cohort": VEJLE_COHORT, "threshold": 1}, headers=headers
    )
    assert low.status_code == 422
    steward = client.post(
        "/feasibility/attrition",
        json={"cohort": VEJLE_COHORT},
        headers=_auth(tokens[Role.steward]),
    )
    assert steward.status_code == 403
    # The budget (2 here) counts attrition queries too; the refusal is audited.
    client.post("/feasibility/attrition", json={"cohort": VEJLE_COHORT}, headers=headers)
    refused = client.post("/feasibility/attrition", json={"cohort": VEJLE_COHORT}, headers=headers)
    assert refused.status_code == 422 and "budget" in refused.json()["detail"]
    assert open_store().entries(action=FEASIBILITY)[-1].data["refused"].startswith("budget:")


def test_attrition_is_rounded_and_guarded_with_the_defence_off(
    var_dir: Path, store: TokenStore, tokens: dict[Role, str]
) -> None:
    """The server's rounding and the small-drop rule hold without the differencing defence.

    8 -> 6 -> 4 -> 3: both drops below 5 read 0 (the first count again), 3 is hidden,
    and the shown 8 is rounded to the server's base of 10.
    """
    build_lake()
    settings = var_dir / "service" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("rounding = 10\n[disclosure]\nenabled = false\n", encoding="utf-8")
    client = client_for(store)
    answer = client.post(
        "/feasibility/attrition",
        json={"cohort": VEJLE_COHORT},
        headers=_auth(tokens[Role.researcher]),
    )
    assert answer.status_code == 200, answer.text
    assert [s["display"] for s in answer.json()["steps"]] == [10, 10, 10, "<5"]
