"""The service's in-memory copy of a snapshot answers exactly as the lake does.

The copy (``service/snapshot_copy.py``) numbers persons instead of keeping
their keys and keeps member sets between requests; none of that may change an
answer. Each test asks the same series of guarded queries once through a pool
that reads the lake only and once through one that reads the copy, with the
same noise key, and compares every displayed value, every reuse and every
refusal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from regionlab import lake
from regionlab.errors import UserError
from regionlab.research.audit_store import open_store
from regionlab.research.cohort import Cohort, diagnosis
from regionlab.research.disclosure import DisclosureSettings, person_salt
from regionlab.research.feasibility import feasibility
from service.lake_pool import LakePool
from tests.research.handbuilt import INDEX

SECRET = b"k" * 32
POLICY = DisclosureSettings()
T2D = Cohort.builder("t2d_all", index_date=INDEX).include(diagnosis("DE11")).build()
ALL = T2D.model_dump(mode="json", by_alias=True, exclude_none=True)
SERIES: list[tuple[dict[str, Any], str]] = [
    ({**ALL, "municipality": ["410", "461", "630"]}, "sex,age_band"),
    ({**ALL, "municipality": ["461", "630"]}, "sex,age_band"),  # 3 people fewer: reused
    ({**ALL, "municipality": ["461", "630"]}, "municipality"),  # near-identical, other split
    ({**ALL, "municipality": ["630"]}, "sex"),
    ({**ALL, "sex": ["K"]}, ""),
    (ALL, "sex,age_band,municipality"),
]


def _wait_for_copy(pool: LakePool, snapshot_id: int) -> None:
    """Block until the background copy of ``snapshot_id`` is in place (no timing asserted)."""
    deadline = time.monotonic() + 120
    while pool.copied_snapshot() != snapshot_id:
        assert time.monotonic() < deadline, "the copy was never built"
        time.sleep(0.05)


def _copy_pool() -> LakePool:
    pool = LakePool(copy=True, salt=lambda: person_salt(SECRET))
    pool.warm()
    read = pool.lake_read()
    read.close()
    _wait_for_copy(pool, read.snapshot_id)
    return pool


def _answers(user: str, connect: Callable[..., Any]) -> list[Any]:
    out: list[Any] = []
    store = open_store()
    for cohort, by in SERIES:
        try:
            result = feasibility(
                cohort,
                by,
                user=user,
                defence=POLICY,
                secret=SECRET,
                audit_store=store,
                connect=connect,
            )
        except UserError as exc:
            out.append(("refused", str(exc).split(":")[0]))
            continue
        cells = None if result.table is None else [(c.key, c.display) for c in result.table.cells]
        out.append((result.total, cells, result.protection and result.protection.reused_from))
    return out


def _strip_times(answers: list[Any]) -> list[Any]:
    return [a if a[0] == "refused" else (a[0], a[1], a[2] is not None) for a in answers]


def test_the_copy_gives_every_answer_the_lake_gives(population: list[dict[str, object]]) -> None:
    lake_only = LakePool(copy=False)
    copied = _copy_pool()
    reads: list[str] = []

    def tracking(snapshot: int | None = None) -> Any:
        read = copied.connect(snapshot)
        reads.append("copy" if read.members is not None else "lake")
        return read

    try:
        from_lake = _strip_times(_answers("lake-reader", lake_only.connect))
        from_copy = _strip_times(_answers("copy-reader", tracking))
    finally:
        lake_only.close()
        copied.close()
    assert reads == ["copy"] * len(SERIES)  # the copy answered, not the lake behind it
    assert from_copy == from_lake
    assert from_lake[1][2] is True  # the series exercised a reuse ...
    assert ("refused", "near-identical") in from_lake  # ... and a near-identical refusal
    assert any(isinstance(a[0], int) and a[0] > 0 for a in from_lake)


def test_the_copy_holds_person_numbers_not_keys(population: list[dict[str, object]]) -> None:
    pool = _copy_pool()
    read = pool.connect()
    try:
        assert read.members is not None
        types = read.con.execute(
            "SELECT DISTINCT data_type FROM duckdb_columns() "
            "WHERE database_name = 'lake' AND column_name = 'person_key'"
        ).fetchall()
        found = read.con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        attached = {r[0] for r in found}
    finally:
        read.close()
        pool.close()
    assert types == [("INTEGER",)]
    assert "lake_source" not in attached  # the lake itself is detached from the copy


def test_a_new_snapshot_is_answered_from_the_lake_until_its_copy_is_built(
    population: list[dict[str, object]],
) -> None:
    pool = _copy_pool()
    old = pool.connect()  # a reader of the old copy, still running when the lake moves on
    try:
        con = lake.connect()
        lake.publish(
            con, "diagnoses", "diagnoses", "SELECT * FROM lake.diagnoses.diagnoses LIMIT 10"
        )
        con.close()
        first = pool.connect()
        try:
            assert first.members is None  # the lake answered the new snapshot ...
            assert first.snapshot_id > old.snapshot_id
        finally:
            first.close()
        _wait_for_copy(pool, first.snapshot_id)  # ... and its copy was built meanwhile
        answer = feasibility(ALL, user="ann", audit_store=open_store(), connect=pool.connect)
        assert answer.total == 10 and answer.snapshot_id == first.snapshot_id
        # The old copy is retired but its reader still reads its own snapshot to the end.
        rows = old.con.execute("SELECT count(*) FROM lake.diagnoses.diagnoses").fetchone()
        assert rows is not None and rows[0] > 10
    finally:
        old.close()
        pool.close()


@pytest.mark.parametrize("threads", [6])
def test_concurrent_readers_of_the_copy_get_the_same_answers(
    population: list[dict[str, object]], threads: int
) -> None:
    pool = _copy_pool()
    results: list[Any] = []
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            results.append(_strip_times(_answers(f"reader-{i}", pool.connect)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=ask, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    pool.close()
    assert not errors
    assert len(results) == threads and all(r == results[0] for r in results)
