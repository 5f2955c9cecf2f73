"""The differencing defence through the access service (``[service.disclosure]``)."""

from __future__ import annotations

from pathlib import Path

from regionlab.research.audit_store import FEASIBILITY, open_store
from regionlab.research.cohort import Cohort, diagnosis
from service.roles import Role
from service.tokens import TokenStore
from tests.research.handbuilt import INDEX
from tests.service.conftest import client_for

T2D = Cohort.builder("t2d_all", index_date=INDEX).include(diagnosis("DE11")).build()
ALL = T2D.model_dump(mode="json", by_alias=True, exclude_none=True)
# Every municipality of the population lake but Middelfart (410), which has three members.
WITHOUT_410 = {**ALL, "municipality": ["461", "630"]}
WITH_410 = {**ALL, "municipality": ["410", "461", "630"]}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_service_answers_a_differencing_pair_alike_and_perturbs_counts(
    population: list[dict[str, object]],
    store: TokenStore,
    tokens: dict[Role, str],
    var_dir: Path,
) -> None:
    settings = var_dir / "service" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("[disclosure]\nenabled = true\nlockout_after = 2\n", encoding="utf-8")
    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    wide = client.post("/feasibility", json={"cohort": WITH_410}, headers=headers).json()
    narrow = client.post("/feasibility", json={"cohort": WITHOUT_410}, headers=headers).json()
    # True counts differ by 3 (Middelfart); both answers show the same perturbed value.
    assert wide["total"] == narrow["total"] and wide["total"] % 5 == 0
    assert abs(wide["total"] - len(population)) <= 15
    assert any("repeated" in n for n in narrow["notes"])
    assert (var_dir / "secrets" / "disclosure-noise.key").is_file()
    entries = open_store().entries(action=FEASIBILITY)
    assert "reused" in entries[-1].data["answer"]
    assert entries[-1].data["definition"]["municipality"] == ["461", "630"]
    # The same query a third time in the window is locked out, and the refusal is audited.
    client.post("/feasibility", json={"cohort": WITH_410}, headers=headers)
    refused = client.post("/feasibility", json={"cohort": WITH_410}, headers=headers)
    assert refused.status_code == 422 and "lockout" in refused.json()["detail"]
    assert open_store().entries(action=FEASIBILITY)[-1].data["refused"].startswith("lockout:")


def test_the_defence_is_on_unless_the_service_settings_switch_it_off(
    population: list[dict[str, object]], var_dir: Path, store: TokenStore, tokens: dict[Role, str]
) -> None:
    client = client_for(store)
    headers = _auth(tokens[Role.researcher])
    answer = client.post("/feasibility", json={"cohort": ALL}, headers=headers).json()
    assert answer["total"] % 5 == 0  # perturbed and rounded by default
    (var_dir / "service" / "settings.toml").write_text("[disclosure]\nenabled = false\n")
    exact = client_for(store).post("/feasibility", json={"cohort": ALL}, headers=headers).json()
    assert exact["total"] == len(population)
