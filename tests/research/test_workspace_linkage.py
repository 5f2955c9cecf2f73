"""Issue 19's linkage attack: join two projects' workspaces on exact timestamps.

Before the fix, joining two projects on ``(start_time, end_time,
department_code)`` linked 92 of 105 persons one-to-one, and ``(npu_code,
value, sampled_at)`` 30 of 30: the pseudonyms differed, the timestamps did
not. Here a lake of 600 persons with contacts and lab results is built, eight
projects are given the same cohort and products (two for each method a permit
can grant: the default per-person shift, and coarsening to day, week and
month, which shifts first), and the attack is re-run between each pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from regionlab import lake
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import hmac_hex
from regionlab.research.permits import register_permit
from regionlab.research.workspace import build_workspace, open_workspace, project_key
from tests.research.handbuilt import persons_sql

N = 600
TODAY = date(2026, 11, 2)
CONTACT_KEY = ["start_time", "end_time", "department_code"]
LAB_KEY = ["npu_code", "value", "sampled_at"]
PRODUCTS = [
    {"product": "population/persons", "columns": ["person_key", "age_band", "sex"]},
    {
        "product": "patient_administration/contacts",
        "columns": ["contact_id", "person_key", "department_code", "start_time", "end_time"],
    },
    {
        "product": "laboratory/lab_results",
        "columns": ["sample_id", "person_key", "npu_code", "value", "sampled_at"],
    },
]
COHORT = {"name": "all_vejle", "index_date": "2026-11-01", "municipality": ["Vejle"]}
GRANULARITIES = ("day", "week", "month")
PROJECTS: dict[str, dict[str, str] | None] = {"shift-a": None, "shift-b": None}
for _unit in GRANULARITIES:
    for _side in "ab":
        PROJECTS[f"{_unit}-{_side}"] = {"method": "coarsen", "granularity": _unit}
#: Every method a permit can grant, as pairs of projects with independent project keys.
METHOD_PAIRS = [("shift-a", "shift-b"), *((f"{u}-a", f"{u}-b") for u in GRANULARITIES)]


def pk(i: int) -> str:
    return hashlib.sha256(f"test-person-L{i:04d}".encode()).hexdigest()


# Deterministic pseudo-random numbers in SQL: hash of the person, the row and a salt.
_H = "hash(i, j, '{salt}')"
CONTACTS_SQL = f"""
SELECT 'C' || i || '-' || j AS contact_id, sha256('test-person-L' || lpad(i::VARCHAR, 4, '0'))
         AS person_key, 'H1' AS hospital_code,
       'D' || ({_H.format(salt="dept")} % 12)::VARCHAR AS department_code,
       'inpatient' AS contact_type, 'acute' AS priority, start_time,
       start_time + to_minutes(CAST(30 + {_H.format(salt="dur")} % 14400 AS BIGINT)) AS end_time
FROM (
  SELECT i, j, TIMESTAMP '2022-01-01 00:00:00'
           + to_minutes(CAST({_H.format(salt="start")} % 2000000 AS BIGINT)) AS start_time
  FROM range({N}) r(i), range(3) s(j) WHERE j <= i % 3
)
"""
LABS_SQL = f"""
SELECT 'S' || i || '-' || j AS sample_id, sha256('test-person-L' || lpad(i::VARCHAR, 4, '0'))
         AS person_key, 'NPU27300' AS npu_code,
       CAST(40 + ({_H.format(salt="value")} % 400) / 10.0 AS DOUBLE) AS value,
       'mmol/mol' AS unit, 20.0 AS reference_low, 42.0 AS reference_high,
       TIMESTAMP '2022-01-01 00:00:00'
         + to_minutes(CAST({_H.format(salt="at")} % 2000000 AS BIGINT)) AS sampled_at,
       'D1' AS department_code
FROM range({N}) r(i), range(3) s(j)
"""


@pytest.fixture(scope="module")
def linkage_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One lake, one fixed key, four projects' workspaces (built once; the tests only read)."""
    var = tmp_path_factory.mktemp("linkage") / "var"
    key_file = var / "secrets" / "pseudonym.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("5a" * 32 + "\n", encoding="utf-8")  # fixed: the result is repeatable
    key_file.chmod(0o600)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(var))
        mp.setenv("REGIONLAB_KEY_FILE", str(key_file))
        for name in ("REGIONLAB_KEY", "REGIONLAB_LAKE_CATALOG", "REGIONLAB_LAKE_DATA"):
            mp.delenv(name, raising=False)
        con = lake.connect()
        try:
            persons = [(f"L{i:04d}", "70-74", "K" if i % 2 else "M", "630", None) for i in range(N)]
            lake.publish(con, "population", "persons", persons_sql(persons))
            lake.publish(con, "patient_administration", "contacts", CONTACTS_SQL)
            lake.publish(con, "laboratory", "lab_results", LABS_SQL)
        finally:
            con.close()
        folder = var.parent / "permits"
        folder.mkdir()
        for project, dates in PROJECTS.items():
            data = {
                "project_id": project,
                "title": "Linkage test",
                "applicant": {"name": "Karen Forsker", "email": "karen@example.org"},
                "organisation": "Testuniversitetet",
                "purpose": "Testing linkage between projects.",
                "legal_basis": "GDPR art. 6(1)(e), 9(2)(j)",
                "products": PRODUCTS,
                "cohort": COHORT,
                "expires": "2027-06-30",
            }
            if dates:
                data["dates"] = dates
            path = folder / f"{project}.yaml"
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
            register_permit(path, today=TODAY)
            build_workspace(project, today=TODAY)
        yield var


def frames(project: str) -> dict[str, pl.DataFrame]:
    """What a researcher of ``project`` can take out of the workspace, plus the true person."""
    truth = {hmac_hex(project_key(project, load_key()), pk(i)): i for i in range(N)}
    con = open_workspace(project, today=TODAY)
    try:
        out = {
            "contacts": con.execute("SELECT * FROM patient_administration.contacts").pl(),
            "labs": con.execute("SELECT * FROM laboratory.lab_results").pl(),
        }
    finally:
        con.close()
    return {
        name: f.with_columns(pl.col("person_key").replace_strict(truth).alias("true_person"))
        for name, f in out.items()
    }


def attack(a: pl.DataFrame, b: pl.DataFrame, on: list[str]) -> tuple[int, int]:
    """(persons linked one-to-one, of them truly the same person), as the issue counted them.

    A value of ``on`` held by exactly one person in each workspace pairs those two; a
    person of ``a`` whose pairs all point at one person of ``b`` (and back) is linked.
    """

    def unique(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.group_by(on)
            .agg(pl.col("person_key").unique(), pl.col("true_person").first())
            .filter(pl.col("person_key").list.len() == 1)
            .with_columns(pl.col("person_key").list.first())
        )

    pairs = (
        unique(a)
        .join(unique(b), on=on, suffix="_b")
        .select("person_key", "person_key_b", "true_person", "true_person_b")
        .unique()
    )
    one_to_one = pairs.filter(
        (pl.col("person_key").count().over("person_key") == 1)
        & (pl.col("person_key_b").count().over("person_key_b") == 1)
    )
    linked = one_to_one.height
    correct = one_to_one.filter(pl.col("true_person") == pl.col("true_person_b")).height
    return linked, correct


def source_frames() -> dict[str, pl.DataFrame]:
    con = lake.connect(read_only=True)
    try:
        return {
            "contacts": con.execute("SELECT * FROM lake.patient_administration.contacts").pl(),
            "labs": con.execute("SELECT * FROM lake.laboratory.lab_results").pl(),
        }
    finally:
        con.close()


def test_the_attack_would_link_everyone_without_protection(linkage_lab: Path) -> None:
    """Baseline: the pseudonyms alone (the state before issue 19) leave the tuples as they are."""
    src = source_frames()
    for name, on in (("contacts", CONTACT_KEY), ("labs", LAB_KEY)):
        frame = src[name].with_columns(pl.col("person_key").alias("true_person"))
        other = frame.with_columns(pl.col("person_key").str.reverse())  # another project's keys
        linked, correct = attack(frame, other, on)
        assert correct >= 0.95 * N, (name, correct)


@pytest.mark.parametrize(("a", "b"), [*METHOD_PAIRS, ("shift-a", "month-a")])
def test_every_granted_method_links_at_most_one_percent(linkage_lab: Path, a: str, b: str) -> None:
    """The issue's attack, between two projects of each method: ≤ 1 % correctly linked.

    ``linked`` counts every one-to-one pair the attacker finds, right or wrong; with
    coarsened dates many of those are different persons who happen to share a bucket
    (the attacker cannot tell which), so the bound is on the correct ones, and the
    shift, whose dates are exact, must also keep the raw pairs ≤ 1 %.
    """
    fa, fb = frames(a), frames(b)
    for name, on in (("contacts", CONTACT_KEY), ("labs", LAB_KEY)):
        linked, correct = attack(fa[name], fb[name], on)
        print(f"{a} x {b} on {name}: {linked} one-to-one links, {correct} correct, of {N}")
        assert correct <= 0.01 * N, (name, correct)
        if a.startswith("shift") and b.startswith("shift"):
            assert linked <= 0.01 * N, (name, linked)


@pytest.mark.parametrize("unit", GRANULARITIES)
def test_coarsening_truncates_shifted_dates(linkage_lab: Path, unit: str) -> None:
    """Coarsened values sit on the unit's first instant, and they are shifted dates:
    the true calendar bucket is not what the workspace shows for most persons."""
    src = source_frames()["labs"].with_columns(
        pl.col("person_key").replace_strict({pk(i): i for i in range(N)}).alias("true_person")
    )
    labs = frames(f"{unit}-a")["labs"]
    at = labs["sampled_at"]
    assert (at.dt.hour() == 0).all() and (at.dt.minute() == 0).all()
    if unit == "week":
        assert (at.dt.weekday() == 1).all()  # Monday
    if unit == "month":
        assert (at.dt.day() == 1).all()
    joined = labs.join(src, on=["true_person", "value"], suffix="_src")
    true_bucket = joined["sampled_at_src"].dt.truncate(
        {"day": "1d", "week": "1w", "month": "1mo"}[unit]
    )
    same = (joined["sampled_at"] == true_bucket).mean()
    assert same is not None and same < 0.2, same  # shifted before truncation
    # One shift per person: within a person, the coarsened gaps follow the true ones.
    gaps = (joined["sampled_at"] - joined["sampled_at_src"]).dt.total_days()
    assert gaps.abs().max() <= 3000 + 31


def test_coarsening_also_hides_exact_intervals(linkage_lab: Path) -> None:
    """The shift's residual risk (exact length of stay + department) is gone once coarsened."""

    def with_stay(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns((pl.col("end_time") - pl.col("start_time")).alias("stay"))

    for unit in GRANULARITIES:
        fa, fb = frames(f"{unit}-a"), frames(f"{unit}-b")
        _, correct = attack(
            with_stay(fa["contacts"]), with_stay(fb["contacts"]), ["stay", "department_code"]
        )
        assert correct <= 0.01 * N, (unit, correct)


def test_shift_keeps_intervals_and_is_one_offset_per_person(linkage_lab: Path) -> None:
    src = source_frames()
    truth_src = {pk(i): i for i in range(N)}
    ws = frames("shift-a")
    contacts = (
        ws["contacts"]
        .join(
            src["contacts"]
            .with_columns(pl.col("person_key").replace_strict(truth_src).alias("true_person"))
            .select("true_person", "department_code", "start_time", "end_time"),
            on=["true_person", "department_code"],
            suffix="_src",
        )
        .filter(
            (pl.col("end_time") - pl.col("start_time"))
            == (pl.col("end_time_src") - pl.col("start_time_src"))
        )
    )
    assert contacts["true_person"].n_unique() >= 0.99 * N  # durations preserved exactly
    shifts = contacts.with_columns(
        ((pl.col("start_time") - pl.col("start_time_src")).dt.total_days()).alias("days")
    )
    labs = ws["labs"].with_columns(pl.col("sampled_at").dt.time().alias("t"))
    per_person = shifts.group_by("true_person").agg(pl.col("days").n_unique().alias("k"))
    assert (per_person["k"] == 1).mean() >= 0.95  # one offset per person (modulo coincidences)
    days = shifts["days"]
    assert days.abs().max() <= 182 and (days != 0).all()
    assert days.n_unique() > 100  # spread over the window, not a constant
    src_times = set(src["labs"]["sampled_at"].dt.time().to_list())
    assert set(labs["t"].to_list()) <= src_times  # whole days: the time of day is kept


def test_key_like_values_are_rekeyed_per_project(linkage_lab: Path) -> None:
    fa, fb = frames("shift-a"), frames("shift-b")
    ids_a = set(fa["labs"]["sample_id"]) | set(fa["contacts"]["contact_id"])
    ids_b = set(fb["labs"]["sample_id"]) | set(fb["contacts"]["contact_id"])
    assert len(ids_a) == 3 * N + sum(i % 3 + 1 for i in range(N))  # one id per row
    assert not ids_a & ids_b
    assert not any(i.startswith(("S", "C")) for i in ids_a)


def test_manifest_records_the_date_protection(linkage_lab: Path) -> None:
    from regionlab.research.workspace import read_manifest

    shift = read_manifest("shift-a")
    month = read_manifest("month-a")
    assert shift.dates.method == "shift" and shift.dates.max_shift_days == 182
    assert month.dates.method == "coarsen" and month.dates.granularity == "month"
    assert month.dates.max_shift_days == 3000  # the coarsening default: 100 months
    assert read_manifest("week-a").dates.max_shift_days == 700
    protected = {p.product: p.protected_dates for p in shift.products}
    assert protected["patient_administration/contacts"] == ["start_time", "end_time"]
    assert protected["laboratory/lab_results"] == ["sampled_at"]
    rekeyed = {p.product: p.rekeyed_columns for p in shift.products}
    assert rekeyed["laboratory/lab_results"] == ["sample_id", "person_key"]
    assert shift.encrypted


def test_residual_risk_interval_patterns_still_link(linkage_lab: Path) -> None:
    """Measured, not hidden: a shift keeps intervals exact, so a length of stay to the minute
    plus the department still pairs persons across projects (docs/architecture.md says so)."""
    fa, fb = frames("shift-a"), frames("shift-b")

    def with_stay(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns((pl.col("end_time") - pl.col("start_time")).alias("stay"))

    linked, correct = attack(
        with_stay(fa["contacts"]), with_stay(fb["contacts"]), ["stay", "department_code"]
    )
    print(f"shift x shift on (length of stay, department): {linked} linked, {correct} correct")
    assert correct > 0.5 * N  # real in this data; coarsening removes it (test above)


def test_a_coarsening_window_below_100_units_is_refused() -> None:
    from pydantic import ValidationError

    from regionlab.research.permits import DateProtection

    with pytest.raises(
        ValidationError, match="coarsen to month needs max_shift_days of at least 3000"
    ):
        DateProtection(method="coarsen", granularity="month", max_shift_days=182)
    assert DateProtection(method="coarsen", granularity="week").max_shift_days == 700
    assert DateProtection(method="coarsen", granularity="day").max_shift_days == 182
    assert DateProtection().max_shift_days == 182
