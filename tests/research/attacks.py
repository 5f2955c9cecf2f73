"""The attacker of the disclosure attack suite: a planted lake, the attacks and the inference.

Shared by the in-process suite (``tests/research/test_disclosure_attacks.py``,
against :func:`~regionlab.research.feasibility.feasibility`) and the live one
(``tests/service/test_live_attacks.py``, through ``regionlab serve`` over HTTP):
an attack is a function of an :class:`Attacker`, and only how the attacker asks
differs (:class:`InProcessAttacker` here, the HTTP one there). See the
in-process suite's docstring for the attacks and what "recovered" means.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from statistics import NormalDist
from typing import Any

from regionlab import lake
from regionlab.research import disclosure
from regionlab.research.audit_store import AuditStore, open_store
from regionlab.research.disclosure import DisclosureSettings, Refused
from regionlab.research.feasibility import FeasibilityResult, feasibility
from regionlab.research.query_history import PastQuery
from tests.research.handbuilt import _values, labs_sql, persons_sql, pk

INDEX = date(2026, 11, 1)
SECRET = b"attack-suite-server-secret-0123456789abcdef"
THRESHOLD = 5
FULL = DisclosureSettings()
GUARD_ONLY = DisclosureSettings(noise_sd=0, rounding_base=1)

# ------------------------------------------------------------------ the lake

# The hidden cells the attacker wants (true counts 1-4).
TRUTH = {
    "vejle_50_54": 1,  # differencing, nested cohorts, averaging
    "vejle_65_69": 4,  # nested cohorts
    "middelfart": 2,  # complementary margins
    "kolding_window_edge": 2,  # one-day shifts
    "fredericia_women_60_64": 1,  # isolating by sex
}
# Other municipalities: T2D members aged 55-69 only, so every set of them
# plus Vejle has exactly one person aged 50-54 (the Vejle target).
OTHERS = {"461": 8, "561": 6, "540": 5, "510": 5, "580": 6}


def _people() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    persons: list[tuple[Any, ...]] = []
    t2d: list[str] = []
    labs: list[tuple[Any, ...]] = []

    def add(name: str, band: str, sex: str, muni: str, diabetic: bool = True) -> None:
        persons.append((name, band, sex, muni, None))
        if diabetic:
            t2d.append(name)

    # Vejle: 50-54: 1 (the target), 55-59: 6, 60-64: 5, 65-69: 4, 70-74: 3.
    add("vejle-target", "50-54", "K", "630")
    for band, n in (("55-59", 6), ("60-64", 5), ("65-69", 4), ("70-74", 3)):
        for i in range(n):
            add(f"vejle-{band}-{i}", band, "KM"[i % 2], "630")
    for i in range(4):  # non-diabetics in the target's band
        add(f"vejle-healthy-{i}", "50-54", "KM"[i % 2], "630", diabetic=False)
    # Fredericia 60-64: one woman among six men; 55-59: five more.
    add("fredericia-woman", "60-64", "K", "607")
    for i in range(6):
        add(f"fredericia-man-{i}", "60-64", "M", "607")
    for i in range(5):
        add(f"fredericia-55-{i}", "55-59", "KM"[i % 2], "607")
    # Kolding: 8 with a high HbA1c mid-window, 2 exactly on the window's first day.
    for i in range(10):
        name = f"kolding-{i}"
        add(name, ["55-59", "60-64", "65-69"][i % 3], "KM"[i % 2], "621")
        day = "2025-11-01 08:00:00" if i < 2 else "2026-05-01 08:00:00"
        labs.append((name, "NPU27300", 60.0, day))
    # Middelfart: two diabetics, both 70-74 (outside every 50-70 query).
    for i in range(2):
        add(f"middelfart-{i}", "70-74", "KM"[i], "410")
    for muni, n in OTHERS.items():
        for i in range(n):
            add(f"m{muni}-{i}", ["55-59", "60-64", "65-69"][i % 3], "KM"[i % 2], muni)
    diagnoses = [(name, "DE119", "A", "2020-01-01 10:00:00") for name in t2d]
    return persons, diagnoses, labs


def build_attack_lake() -> int:
    persons, diagnoses, labs = _people()
    diag_rows = [
        (f"D{i:04d}", f"C{i:04d}", pk(n), code, typ, at)
        for i, (n, code, typ, at) in enumerate(diagnoses)
    ]
    con = lake.connect()
    try:
        lake.publish(con, "population", "persons", persons_sql(persons))
        lake.publish(con, "laboratory", "lab_results", labs_sql(labs))
        # One prescription, of a non-diabetic: the no-op exclusions need the product.
        rx = [("R0001", pk("vejle-healthy-0"), "A10BA02", "drug", "1 mg", "2025-01-01", None)]
        lake.publish(
            con,
            "medication",
            "prescriptions",
            "SELECT prescription_id, person_key, atc_code, drug_name, strength, "
            "CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date "
            f"FROM (VALUES {_values(rx)}) t(prescription_id, person_key, atc_code, "
            "drug_name, strength, start_date, end_date)",
        )
        return lake.publish(
            con,
            "diagnoses",
            "diagnoses",
            "SELECT diagnosis_id, contact_id, person_key, diagnosis_code, diagnosis_type, "
            "CAST(registered_at AS TIMESTAMP) AS registered_at "
            f"FROM (VALUES {_values(diag_rows)}) t(diagnosis_id, contact_id, person_key, "
            "diagnosis_code, diagnosis_type, registered_at)",
        )
    finally:
        con.close()


# ------------------------------------------------------------------ definitions


def t2d(
    *,
    age: tuple[int | None, int | None] | None = (50, 70),
    municipality: list[str] | None = None,
    sex: list[str] | None = None,
    lab_from: str | None = None,
    index: date = INDEX,
    excludes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A T2D cohort; ``excludes`` adds medication exclusions nobody has (no-op rephrasings)."""
    out: dict[str, Any] = {
        "name": "attack",
        "index_date": index.isoformat(),
        "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
        "exclude": [{"kind": "medication", "atc": [atc]} for atc in excludes],
    }
    if age is not None:
        out["age"] = {"min": age[0], "max": age[1]}
    if municipality is not None:
        out["municipality"] = municipality
    if sex is not None:
        out["sex"] = sex
    if lab_from is not None:
        out["include"].append(
            {"kind": "lab", "npu": ["NPU27300"], "above": 53, "within": {"from": lab_from}}
        )
    return out


NO_OPS = ("N02BE01", "R03AC02", "C07AB02", "N02AA01", "R03BA02", "C07AB07")
"""ATC codes nobody in the attack lake was prescribed: excluding them changes nobody."""
ALL_MUNICIPALITIES = ["410", "461", "510", "540", "561", "580", "607", "621", "630"]


# ------------------------------------------------------------------ the attacker


@dataclass
class Seen:
    """One answer as the attacker sees it."""

    total: int | str
    cells: dict[str, int | str]
    reused: bool

    def cell(self, *key: str) -> int | str:
        return self.cells[disclosure.cell_key(key)]


@dataclass
class Attacker:
    """A researcher account that asks counts and infers hidden ones; subclasses say how it asks.

    The inference (``likelihood``, ``posterior``) is the same whether the
    answers come from the counting path in process or from the access service
    over HTTP: the attacker knows only the published mechanism (``defence``).
    """

    defence: DisclosureSettings | None
    user: str = field(default_factory=lambda: f"mallory-{uuid.uuid4().hex[:8]}")
    project: str = "p-attack"
    asked: int = 0
    refused: int = 0

    def ask(self, cohort: dict[str, Any], by: str | None = None) -> Seen | None:
        """One query; ``None`` when the defence refused it."""
        self.asked += 1
        seen = self._query(cohort, by)
        if seen is None:
            self.refused += 1
        return seen

    def _query(self, cohort: dict[str, Any], by: str | None) -> Seen | None:
        raise NotImplementedError

    # -------------------------------------------------------------- inference

    @property
    def sd(self) -> float:
        return self.defence.noise_sd if self.defence else 0.0

    @property
    def base(self) -> int:
        return self.defence.rounding_base if self.defence else 1

    def likelihood(self, shown: int | str, true: int) -> float:
        """P(shown | true count) under the published mechanism."""
        if isinstance(shown, str):
            return 1.0 if 1 <= true < THRESHOLD else 0.0
        if shown == 0 or true == 0:
            return 1.0 if shown == true else 0.0
        if true < THRESHOLD:
            return 0.0
        if self.sd == 0 and self.base == 1:
            return 1.0 if shown == true else 0.0
        floor = math.ceil(THRESHOLD / self.base) * self.base
        total = 0.0
        dist = NormalDist(0, max(self.sd, 1e-9))
        for k in range(-12, 13):
            p = dist.cdf(k + 0.5) - dist.cdf(k - 0.5)
            noisy = true + k
            value = max(math.floor((noisy + self.base / 2) / self.base) * self.base, floor)
            if value == shown:
                total += p
        return total

    def posterior(
        self, pairs: list[tuple[Seen, Seen, bool]], *, max_x: int = 12, max_base: int = 80
    ) -> dict[int, float]:
        """Posterior of a hidden count x where each pair shows |A| = |B| + x.

        The third element says whether the guard would have compared the two
        (near-identical, same snapshot): then a fresh answer tells x >= threshold.
        """
        weights = {x: 1.0 for x in range(max_x + 1)}
        for a, b, compared in pairs:
            for x in weights:
                if self.defence is not None and (a.reused or b.reused):
                    # A reused answer says only "fewer than threshold people differ".
                    weights[x] *= 1.0 if x < THRESHOLD else 0.0
                    continue
                if self.defence is not None and compared and x < THRESHOLD:
                    weights[x] = 0.0
                    continue
                weights[x] *= sum(
                    self.likelihood(a.total, t + x) * self.likelihood(b.total, t)
                    for t in range(max_base + 1)
                )
        norm = sum(weights.values())
        assert norm > 0, "the attacker's model must explain what it saw"
        return {x: w / norm for x, w in weights.items()}


def recovered(posterior: dict[int, float], truth: int) -> bool:
    """The attacker's best guess is the truth and it is at least 95 % sure of it."""
    best = max(posterior, key=lambda x: posterior[x])
    return 1 <= truth <= 4 and best == truth and posterior[best] >= 0.95


def exact(value: int | str) -> int | None:
    return value if isinstance(value, int) else None


@dataclass
class InProcessAttacker(Attacker):
    """Asks :func:`feasibility` directly; its history is the real audit store of the var/."""

    store: AuditStore = field(default_factory=open_store)

    def history(self) -> list[PastQuery]:
        return self.store.past_queries(self.user, since=datetime.now(UTC) - timedelta(days=31))

    def _query(self, cohort: dict[str, Any], by: str | None) -> Seen | None:
        """One query through the real counting path; ``None`` when refused."""
        try:
            result: FeasibilityResult = feasibility(
                cohort,
                by,
                user=self.user,
                project=self.project,
                audit_store=self.store,
                defence=self.defence,
                secret=SECRET,
            )
        except Refused:
            return None
        # What the attacker sees is what the store recorded as shown.
        answer = self.history()[-1].answer
        assert answer["total"] == result.total
        return Seen(result.total, dict(answer.get("cells", {})), "reused" in answer)


# ------------------------------------------------------------------ attacks
# Each returns the attacker's posterior for one hidden count.


def attack_differencing(att: Attacker) -> dict[int, float]:
    """The issue's case: Vejle 50-70 minus 55-70."""
    a = att.ask(t2d(age=(50, 70), municipality=["630"]))
    b = att.ask(t2d(age=(55, 70), municipality=["630"]))
    assert a is not None and b is not None
    return att.posterior([(a, b, True)])


def attack_differencing_reversed(att: Attacker) -> dict[int, float]:
    """The same, narrower query first (so reuse cannot simply keep the first answer)."""
    b = att.ask(t2d(age=(55, 70), municipality=["630"]))
    a = att.ask(t2d(age=(50, 70), municipality=["630"]))
    assert a is not None and b is not None
    return att.posterior([(a, b, True)])


def attack_nested_tables(att: Attacker) -> tuple[dict[int, float], dict[int, float]]:
    """Vejle 50-70 and 55-70 by age band: subtract totals and known cells."""
    wide = att.ask(t2d(age=(50, 70), municipality=["630"]), "age_band")
    narrow = att.ask(t2d(age=(55, 70), municipality=["630"]), "age_band")
    assert wide is not None and narrow is not None
    assert isinstance(wide.cell("50-54"), str), "the target cell is hidden alone"
    # 50-54 = wide total - narrow total; 65-69 = narrow total - 55-59 - 60-64 (any shown copy).
    first = att.posterior(
        [(Seen(wide.total, {}, wide.reused), Seen(narrow.total, {}, narrow.reused), True)]
    )
    known = 0
    certain = True
    for band in ("55-59", "60-64"):
        shown = [exact(s.cell(band)) for s in (wide, narrow)]
        values = [v for v in shown if v is not None]
        if not values:
            certain = False
            break
        known += values[0]
    second: dict[int, float]
    total = exact(narrow.total)
    if certain and total is not None and att.sd == 0 and att.base == 1 and not narrow.reused:
        second = {x: 1.0 if x == total - known else 0.0 for x in range(13)}
    else:
        # Noisy or reused values: the attacker's best is the pairwise posterior.
        base = Seen(known, {}, False) if certain else Seen(0, {}, False)
        second = att.posterior([(Seen(narrow.total, {}, narrow.reused), base, False)])
    return first, second


def attack_complement(att: Attacker) -> dict[int, float]:
    """The region's total minus every municipality but Middelfart (no age filter)."""
    everyone = att.ask(t2d(age=None, municipality=ALL_MUNICIPALITIES))
    rest = att.ask(t2d(age=None, municipality=[m for m in ALL_MUNICIPALITIES if m != "410"]))
    assert everyone is not None and rest is not None
    return att.posterior([(everyone, rest, True)], max_base=120)


def attack_complement_table(att: Attacker) -> dict[int, float]:
    """By municipality (Middelfart hidden), then the total without Middelfart."""
    table = att.ask(t2d(age=None, municipality=ALL_MUNICIPALITIES), "municipality")
    rest = att.ask(t2d(age=None, municipality=[m for m in ALL_MUNICIPALITIES if m != "410"]))
    assert table is not None and rest is not None
    assert isinstance(table.cell("410"), str)
    return att.posterior([(Seen(table.total, {}, table.reused), rest, True)], max_base=120)


def attack_window_shift(att: Attacker) -> dict[int, float]:
    """Kolding, HbA1c window from -365d vs -364d: the two on the first day drop out."""
    a = att.ask(t2d(age=None, municipality=["621"], lab_from="-365d"))
    b = att.ask(t2d(age=None, municipality=["621"], lab_from="-364d"))
    assert a is not None and b is not None
    return att.posterior([(a, b, True)])


def attack_index_shift(att: Attacker) -> dict[int, float]:
    """The same window, the index date one day later."""
    a = att.ask(t2d(age=None, municipality=["621"], lab_from="-365d"))
    b = att.ask(t2d(age=None, municipality=["621"], lab_from="-365d", index=INDEX + timedelta(1)))
    assert a is not None and b is not None
    return att.posterior([(a, b, True)])


def attack_isolate_by_sex(att: Attacker) -> dict[int, float]:
    """Fredericia 60-64: the group minus its men is the one woman."""
    group = att.ask(t2d(age=(60, 64), municipality=["607"]))
    men = att.ask(t2d(age=(60, 64), municipality=["607"], sex=["M"]))
    assert group is not None and men is not None
    return att.posterior([(group, men, True)])


def attack_rephrased_averaging(
    att: Attacker, max_pairs: int = 12
) -> tuple[dict[int, float], list[int | str]]:
    """Each side asked in many no-op rephrasings; every pair goes into the posterior."""
    pairs = []
    wide_seen: list[int | str] = []
    for k in range(1, 4):
        for extra in combinations(NO_OPS, k):
            a = att.ask(t2d(age=(50, 70), municipality=["630"], excludes=extra))
            b = att.ask(t2d(age=(55, 70), municipality=["630"], excludes=extra))
            if a is None or b is None:
                continue
            wide_seen.append(a.total)
            pairs.append((a, b, True))
            if len(pairs) >= max_pairs:
                return att.posterior(pairs), wide_seen
    return att.posterior(pairs), wide_seen


def attack_averaging_until_lockout(
    att: Attacker, rephrasings: int = 3
) -> tuple[dict[int, float], list[int | str]]:
    """Vejle 50-70 and 55-70 asked again and again until the lockout, then rephrased.

    Every answered pair goes into one posterior (averaging independent noise
    would converge on the truth). The attacker knows the published lockout
    limit, so it asks one round more than that; without a defence it stops
    after two rounds (exact counts need no more). Returns the posterior and
    every shown total of the wide query.
    """
    wide, narrow = t2d(age=(50, 70), municipality=["630"]), t2d(age=(55, 70), municipality=["630"])
    rounds = att.defence.lockout_after + 1 if att.defence is not None else 2
    pairs = []
    wide_seen: list[int | str] = []
    for _ in range(rounds):
        a, b = att.ask(wide), att.ask(narrow)
        if a is not None:
            wide_seen.append(a.total)
        if a is not None and b is not None:
            pairs.append((a, b, True))
    for atc in NO_OPS[:rephrasings]:
        a = att.ask(t2d(age=(50, 70), municipality=["630"], excludes=(atc,)))
        b = att.ask(t2d(age=(55, 70), municipality=["630"], excludes=(atc,)))
        if a is not None:
            wide_seen.append(a.total)
        if a is not None and b is not None:
            pairs.append((a, b, True))
    return att.posterior(pairs), wide_seen


def attack_evasive_pairs(att: Attacker, max_pairs: int = 1000) -> dict[int, float]:
    """Pairs three edits apart (age bound + two no-ops) over distinct sets of other people.

    Every set is Vejle plus some other municipalities (who have nobody aged
    50-54), so each pair differs by exactly the target; distinct sets get
    independent noise. The attacker spends the whole budget.
    """
    pool = sorted(OTHERS) + ["607", "621"]
    pairs = []
    sets = (list(c) for k in range(len(pool) + 1) for c in combinations(pool, k))
    for others in sets:
        if att.asked >= FULL.budget + 2 or len(pairs) >= max_pairs:
            break
        muni = ["630", *others]
        a = att.ask(t2d(age=(50, 70), municipality=muni))
        b = att.ask(t2d(age=(55, 70), municipality=muni, excludes=NO_OPS[:2]))
        if a is None or b is None:
            break
        pairs.append((a, b, False))
    assert len(pairs) >= min(10, max_pairs)
    return att.posterior(pairs, max_base=120)


SIMPLE_ATTACKS = {
    "differencing 50-70 vs 55-70": (attack_differencing, "vejle_50_54"),
    "differencing, narrow first": (attack_differencing_reversed, "vejle_50_54"),
    "complementary margins": (attack_complement, "middelfart"),
    "complementary margins from a table": (attack_complement_table, "middelfart"),
    "one-day window shift": (attack_window_shift, "kolding_window_edge"),
    "one-day index shift": (attack_index_shift, "kolding_window_edge"),
    "one more filter (sex)": (attack_isolate_by_sex, "fredericia_women_60_64"),
}
