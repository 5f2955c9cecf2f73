"""Feasibility through the access service: the floor and the caller are the server's.

The TestClient tests call the real app in-process; the live tests run uvicorn
in its own process and the real ``regionlab`` command against it, which is the
path a researcher takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from regionlab.research.audit_store import FEASIBILITY, open_store
from regionlab.research.client import ServiceClient
from regionlab.research.cohort import Cohort, diagnosis
from service.roles import Role
from service.tokens import TokenStore
from tests.research.handbuilt import INDEX
from tests.service.conftest import client_for

T2D = Cohort.builder("t2d_all", index_date=INDEX).include(diagnosis("DE11")).build()
BODY = {"cohort": T2D.model_dump(mode="json", by_alias=True, exclude_none=True)}
REPO = Path(__file__).resolve().parents[2]


EXACT = "[disclosure]\nenabled = false\n"


@pytest.fixture(autouse=True)
def exact_counts(var_dir: Path) -> None:
    """These tests check the counting path to the exact number, so the service's own settings
    switch the differencing defence off (it is tested in test_disclosure_service.py and the
    attack suite)."""
    (var_dir / "service").mkdir(parents=True, exist_ok=True)
    (var_dir / "service" / "settings.toml").write_text(EXACT, encoding="utf-8")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_researcher_gets_suppressed_counts_audited_under_the_token_name(
    population: list[dict[str, object]], store: TokenStore, tokens: dict[Role, str]
) -> None:
    client = client_for(store)
    body = {**BODY, "by": ["sex", "municipality"], "project": "t2d-hba1c"}
    response = client.post("/feasibility", json=body, headers=_auth(tokens[Role.researcher]))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["user"] == "anna"
    assert answer["threshold"] == 5
    cells = {tuple(c["key"]): c["display"] for c in answer["cells"]}
    expected = Counter((p["sex"], p["municipality"]) for p in population)
    assert any(1 <= n < 5 for n in expected.values())
    for key, n in expected.items():
        if 1 <= n < 5:
            assert cells[key] == "<5"
        elif cells[key] != "<5":
            assert cells[key] == n
    assert cells[("Total", "Total")] == len(population)
    assert "primary" not in response.text and "secondary" not in response.text
    (entry,) = open_store().entries(action=FEASIBILITY)
    assert entry.user == "anna" and entry.id == answer["audit_entry_id"]
    assert entry.project == "t2d-hba1c"
    assert entry.data["answer"]["cells"]["Total|Total"] == len(population)


def test_a_lower_threshold_is_refused_and_a_higher_one_applies(
    population: list[dict[str, object]], store: TokenStore, tokens: dict[Role, str]
) -> None:
    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    low = client.post("/feasibility", json={**BODY, "threshold": 1}, headers=headers)
    assert low.status_code == 422
    assert "below the platform minimum of 5" in low.json()["detail"]
    assert open_store().entries(action=FEASIBILITY) == []
    high = client.post(
        "/feasibility", json={**BODY, "by": ["municipality"], "threshold": 50}, headers=headers
    )
    assert high.status_code == 200 and high.json()["threshold"] == 50
    assert "<50" in {c["display"] for c in high.json()["cells"]}


def test_the_floor_comes_from_the_service_settings_file(
    population: list[dict[str, object]], var_dir: Path, store: TokenStore, tokens: dict[Role, str]
) -> None:
    (var_dir / "service").mkdir(exist_ok=True)
    (var_dir / "service" / "settings.toml").write_text("min_cell = 10\n" + EXACT, encoding="utf-8")
    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    assert (
        client.post("/feasibility", json={**BODY, "threshold": 5}, headers=headers).status_code
        == 422
    )
    answer = client.post("/feasibility", json={**BODY, "by": ["municipality"]}, headers=headers)
    assert answer.json()["threshold"] == 10
    assert "<10" in {c["display"] for c in answer.json()["cells"]}


def test_the_client_environment_does_not_lower_the_floor(
    population: list[dict[str, object]],
    var_dir: Path,
    store: TokenStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REGIONLAB_MIN_CELL used to set the floor in the researcher's own process."""
    monkeypatch.setenv("REGIONLAB_MIN_CELL", "1")
    monkeypatch.setenv("REGIONLAB_SERVICE_MIN_CELL", "1")
    token = store.issue("anna", Role.researcher)
    client = client_for(store)
    answer = client.post(
        "/feasibility", json={**BODY, "by": ["municipality"]}, headers=_auth(token)
    )
    assert answer.json()["threshold"] == 5
    assert "<5" in {c["display"] for c in answer.json()["cells"]}


def test_other_roles_may_not_ask_counts(
    population: list[dict[str, object]], store: TokenStore, tokens: dict[Role, str]
) -> None:
    client = client_for(store)
    for role in (Role.steward, Role.strategy, Role.access_officer, Role.dpo):
        response = client.post("/feasibility", json=BODY, headers=_auth(tokens[role]))
        assert response.status_code == 403, role
    assert client.post("/feasibility", json=BODY).status_code == 401
    assert open_store().entries(action=FEASIBILITY) == []


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regionlab", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


@pytest.mark.slow
def test_the_cli_asks_through_the_live_service_and_env_bypasses_fail(
    population: list[dict[str, object]], tmp_path: Path, live: str, store: TokenStore
) -> None:
    token = store.issue("anna", Role.researcher)
    cohort_file = tmp_path / "t2d_all.yaml"
    cohort_file.write_text(T2D.to_yaml(), encoding="utf-8")
    env = {
        "REGIONLAB_SERVICE_URL": live,
        "REGIONLAB_TOKEN": token,
        "REGIONLAB_MIN_CELL": "1",
        "REGIONLAB_USER": "someone-else",
    }
    shown = _cli(["feasibility", str(cohort_file), "--by", "sex,municipality"], env)
    assert shown.returncode == 0, shown.stderr
    assert "630 Vejle" in shown.stdout and "<5" in shown.stdout
    assert f"{len(population)} persons" in shown.stdout
    assert "answered for anna" in shown.stdout
    lowered = _cli(["feasibility", str(cohort_file), "--threshold", "1"], env)
    assert lowered.returncode == 1
    assert lowered.stderr.strip().startswith("error:") and "Traceback" not in lowered.stderr
    assert "below the platform minimum of 5" in lowered.stderr
    (entry,) = open_store().entries(action=FEASIBILITY)
    assert entry.user == "anna"  # not REGIONLAB_USER
    assert entry.data["threshold"] == 5
    bad = _cli(["feasibility", str(cohort_file)], {**env, "REGIONLAB_TOKEN": "rl_forged"})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "regionlab login" in bad.stderr
    store.issue("sten", Role.steward)
    steward = store.issue("sten", Role.steward, replace=True)
    denied = _cli(["feasibility", str(cohort_file)], {**env, "REGIONLAB_TOKEN": steward})
    assert denied.returncode == 1 and "not allowed" in denied.stderr
    assert "researcher" in denied.stderr


@pytest.mark.slow
def test_the_python_client_against_the_live_service(
    population: list[dict[str, object]], live: str, store: TokenStore
) -> None:
    client = ServiceClient(live, store.issue("anna", Role.researcher))
    assert client.whoami() == {"name": "anna", "role": "researcher", "issuer": "builtin"}
    answer = client.feasibility(T2D, "sex")
    frame = answer.to_frame()
    assert frame.columns == ["sex", "count", "display"]
    assert answer.cell("Total").display == len(population)
    assert answer.total == len(population)


def test_lake_tables_answers_what_notebooks_used_to_read_from_the_lake(
    population: list[dict[str, object]], store: TokenStore, tokens: dict[Role, str]
) -> None:
    client = client_for(store)
    response = client.get("/lake/tables", headers=_auth(tokens[Role.researcher]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["snapshot"] > 0
    assert body["tables"]["population.persons"] >= len(population) > 5
    assert not any(name.startswith("_") for name in body["tables"])
    assert client.get("/lake/tables", headers=_auth(tokens[Role.labeller])).status_code == 403


def test_rounding_is_a_server_policy_applied_after_suppression(
    population: list[dict[str, object]], var_dir: Path, store: TokenStore, tokens: dict[Role, str]
) -> None:
    (var_dir / "service").mkdir(exist_ok=True)
    (var_dir / "service" / "settings.toml").write_text("rounding = 5\n" + EXACT, encoding="utf-8")
    client = client_for(store)
    body = {**BODY, "by": ["sex", "municipality"]}
    answer = client.post("/feasibility", json=body, headers=_auth(tokens[Role.researcher])).json()
    assert answer["rounding"] == 5
    shown = [c["display"] for c in answer["cells"] if isinstance(c["display"], int)]
    assert shown and all(n % 5 == 0 for n in shown)
    assert any(c["display"] == "<5" for c in answer["cells"])  # hidden cells stay hidden
    expected = Counter((p["sex"], p["municipality"]) for p in population)
    for c in answer["cells"]:
        key = tuple(c["key"])
        if key in expected and isinstance(c["display"], int):
            assert abs(c["display"] - expected[key]) <= 2


def test_round_shown() -> None:
    from regionlab.research.feasibility import round_shown

    assert [round_shown(n, 5) for n in (0, 1, 5, 6, 7, 8, 12, 13)] == [0, 5, 5, 5, 5, 10, 10, 15]
    assert round_shown("<5", 5) == "<5" and round_shown(7, 1) == 7
    assert round_shown(5, 4, threshold=5) == 8  # never shown as 4, which reads as small
    assert round_shown(9, 4, threshold=5) == 8


def test_a_bad_request_is_a_422_naming_the_problem_and_is_not_counted(
    population: list[dict[str, object]], store: TokenStore, tokens: dict[Role, str]
) -> None:
    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    bad_dim = client.post("/feasibility", json={**BODY, "by": ["postcode"]}, headers=headers)
    assert bad_dim.status_code == 422 and "unknown dimension" in bad_dim.json()["detail"]
    bad_cohort = client.post("/feasibility", json={"cohort": {"name": "Bad Name"}}, headers=headers)
    assert bad_cohort.status_code == 422 and "name" in bad_cohort.json()["detail"]
    extra = client.post("/feasibility", json={**BODY, "user": "mallory"}, headers=headers)
    assert extra.status_code == 422  # no field names the caller: the token does
    assert open_store().entries(action=FEASIBILITY) == []


def test_the_shared_lake_connection_sees_new_publishes_and_pinned_snapshots_still_work(
    population: list[dict[str, object]], store: TokenStore, tokens: dict[Role, str]
) -> None:
    from regionlab import lake

    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    before = client.post("/feasibility", json=BODY, headers=headers).json()
    assert before["total"] == len(population)
    con = lake.connect()
    lake.publish(con, "diagnoses", "diagnoses", "SELECT * FROM lake.diagnoses.diagnoses LIMIT 10")
    con.close()
    now = client.post("/feasibility", json=BODY, headers=headers).json()
    assert now["snapshot_id"] > before["snapshot_id"] and now["total"] == 10
    pinned = client.post(
        "/feasibility", json={**BODY, "snapshot": before["snapshot_id"]}, headers=headers
    ).json()
    assert pinned["total"] == len(population) and pinned["snapshot_id"] == before["snapshot_id"]
