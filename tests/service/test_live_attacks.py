"""The disclosure attack suite against a live ``regionlab serve``: no count 1-4 is recovered.

The attacks and the attacker's inference are those of the in-process suite
(``tests/research/attacks.py``); here the attacker is a researcher with a
token of the built-in issuer who asks over HTTP with the Python client, as a
notebook would, and sees only the service's answer (the total, the cells, the
notes: "answer repeated from your near-identical query" is how it learns of a
reuse; a refusal is a 422 with the reason). It knows the published mechanism,
read from the service's settings, and nothing else.

Two services serve the same planted lake, each in its own process and var/:
one with the settings as deployed (the defence on by default) and one whose
own ``service/settings.toml`` switches the defence off. Every attack must
succeed against the second (else the test could not fail) and fail against
the first.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from regionlab.errors import UserError
from regionlab.research import disclosure
from regionlab.research.client import ServiceClient
from regionlab.research.disclosure import DisclosureSettings
from service.roles import Role
from service.settings import load_service_settings
from service.tokens import TokenStore
from tests.research.attacks import (
    THRESHOLD,
    TRUTH,
    Attacker,
    Seen,
    attack_averaging_until_lockout,
    attack_complement,
    attack_differencing,
    attack_isolate_by_sex,
    build_attack_lake,
    recovered,
    t2d,
)
from tests.service.live import start_server, stop_server

pytestmark = pytest.mark.slow  # two services and ~50 audited queries: about a minute

REFUSALS = (disclosure.REFUSED_LOCKOUT, disclosure.REFUSED_BUDGET, disclosure.REFUSED_NEAR)
REPEATED = "answer repeated from your near-identical query"


@dataclass(frozen=True)
class Service:
    """A running service: its URL, its var/ and the defence it publishes (``None``: off)."""

    url: str
    var: Path
    defence: DisclosureSettings | None


@dataclass(kw_only=True)
class HttpAttacker(Attacker):
    """Asks ``POST /feasibility`` with its own researcher token; sees what a client sees."""

    client: ServiceClient
    shown: list[dict[str, Any]] = field(default_factory=list)

    def _query(self, cohort: dict[str, Any], by: str | None) -> Seen | None:
        try:
            answer = self.client.feasibility(cohort, by, project=self.project)
        except UserError as exc:
            if str(exc).startswith(REFUSALS):
                return None
            raise
        assert answer.user == self.user  # "who" is the token's, not the client's to say
        self.shown.append(answer.model_dump())
        cells = {disclosure.cell_key(c.key): c.display for c in answer.cells}
        return Seen(answer.total, cells, any(n.startswith(REPEATED) for n in answer.notes))


def _serve(var: Path, settings_toml: str | None) -> Iterator[Service]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(var))
        build_attack_lake()
        if settings_toml is not None:
            (var / "service").mkdir(parents=True, exist_ok=True)
            (var / "service" / "settings.toml").write_text(settings_toml, encoding="utf-8")
        settings = load_service_settings()  # what the service publishes, as it will read it
        assert settings.min_cell == THRESHOLD, "the attacker's model assumes the floor of 5"
        defence = settings.disclosure if settings.disclosure.enabled else None
    proc, url = start_server(var)
    try:
        yield Service(url, var, defence)
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def defended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service with its settings as deployed: the defence is on by default."""
    var = tmp_path_factory.mktemp("live-defended") / "var"
    var.mkdir()
    yield from _serve(var, None)


@pytest.fixture(scope="module")
def undefended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The control: the same lake, the defence switched off in the service's own settings."""
    var = tmp_path_factory.mktemp("live-undefended") / "var"
    var.mkdir()
    yield from _serve(var, "[disclosure]\nenabled = false\n")


def attacker(service: Service) -> HttpAttacker:
    """A fresh researcher account (its own history, budget and lockout) with its own token."""
    name = f"mallory-{uuid.uuid4().hex[:8]}"
    token = TokenStore(service.var / "service" / "identities.sqlite").issue(name, Role.researcher)
    return HttpAttacker(service.defence, user=name, client=ServiceClient(service.url, token))


AVERAGING = "averaging until the lockout"
ATTACKS = {
    "differencing 50-70 vs 55-70": (attack_differencing, "vejle_50_54"),
    "one more filter (sex)": (attack_isolate_by_sex, "fredericia_women_60_64"),
    "complementary margins": (attack_complement, "middelfart"),
    AVERAGING: (
        lambda att: attack_averaging_until_lockout(att)[0],
        "vejle_50_54",
    ),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_the_attack_recovers_the_count_from_a_service_without_the_defence(
    undefended: Service, name: str
) -> None:
    attack, cell = ATTACKS[name]
    att = attacker(undefended)
    assert att.defence is None
    posterior = attack(att)
    assert recovered(posterior, TRUTH[cell]), posterior
    assert att.refused == 0


def _nothing_recovered(att: HttpAttacker, posterior: dict[int, float], cell: str) -> None:
    assert not recovered(posterior, TRUTH[cell]), posterior
    # Nothing beyond "fewer than 5 differ": no value 0..4 stands out.
    assert max(posterior.values()) <= 0.2 + 1e-9, posterior
    # No answer the attacker saw holds a count 1-4 anywhere.
    assert att.shown
    for answer in att.shown:
        values = [answer["total"], *(c["display"] for c in answer["cells"])]
        assert not [v for v in values if isinstance(v, int) and 1 <= v < THRESHOLD], answer


@pytest.mark.parametrize("name", [n for n in ATTACKS if n != AVERAGING])
def test_the_attack_recovers_nothing_from_the_live_service(defended: Service, name: str) -> None:
    attack, cell = ATTACKS[name]
    att = attacker(defended)
    assert att.defence is not None and att.defence.perturbs, "the defence is on by default"
    _nothing_recovered(att, attack(att), cell)


def test_averaging_meets_one_value_then_the_lockout(defended: Service) -> None:
    """Repeats and rephrasings all show the same value; the same query is then refused."""
    att = attacker(defended)
    assert att.defence is not None and att.defence.perturbs
    posterior, wide_seen = attack_averaging_until_lockout(att)
    _nothing_recovered(att, posterior, "vejle_50_54")
    assert len(set(wide_seen)) == 1, wide_seen
    assert len(wide_seen) >= att.defence.lockout_after
    assert att.refused >= 1, "the lockout was reached"


def test_concurrent_repeats_of_one_account_do_not_pass_the_lockout(defended: Service) -> None:
    """Asked all at once, one query is answered ``lockout_after`` times, never more: the
    guard's history read and the audit write of one account's queries do not interleave."""
    att = attacker(defended)
    assert att.defence is not None
    n = att.defence.lockout_after + 4
    cohort = t2d(age=(50, 70), municipality=["630"])
    barrier = threading.Barrier(n)
    seen: list[Seen | None] = []

    def ask() -> None:
        barrier.wait()
        seen.append(att._query(cohort, None))

    threads = [threading.Thread(target=ask) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    answered = [s for s in seen if s is not None]
    assert len(seen) == n
    assert len(answered) == att.defence.lockout_after
    assert len({s.total for s in answered}) == 1
