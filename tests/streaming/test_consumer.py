"""The consumer against a real RabbitMQ and a real DuckLake.

Compared with the producer's ledger (what the broker confirmed): every message ends
exactly once in the lake's stream log, every clean event is published exactly once,
every labelled defect is quarantined with its reason — also when the consumer is
killed (SIGKILL) before a commit and after a commit but before its acknowledgement.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from regionlab import lake
from regionlab.erasure import erased_persons
from regionlab.erasure.resolve import person_keys
from regionlab.platform.names import DELIVERY_COLUMN
from regionlab.privacy.keys import load_key
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.streaming.consumer import consume
from regionlab.streaming.tables import STREAM_LOG
from regionlab.synth.fhir_events import Population
from regionlab.synth.stream_feed import Rate, publish_feed, read_ledger
from regionlab.wap import quarantine_zone
from tests.streaming.conftest import REF, ledger_path

pytestmark = pytest.mark.slow

#: What the consumer files each labelled defect under.
REASON = {
    "invalid_resource": {"invalid_resource"},
    "bad_cpr": {"invalid_cpr"},
    "identifier_in_text": {"identifier_in_text"},
    "duplicate": {"duplicate_row", "duplicate_event"},
}


def _feed(settings: Settings, product: Product, queue: str, count: int, **kw: object) -> list:
    publish_feed(
        [product], settings.sources_dir, ledger_path(settings), rate=Rate(rate=2000),
        count=count, queue=queue, seed=11, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return read_ledger(ledger_path(settings))


def _lake_state() -> tuple[list[tuple], list[tuple]]:
    """``(message_id, outcome, reason)`` of the stream log and ``(observation_id, _delivery)``
    of the product table."""
    con = lake.connect(read_only=True)
    try:
        log = con.execute(
            f"SELECT message_id, outcome, reason FROM {STREAM_LOG.qualified} WHERE product = ?",
            [REF],
        ).fetchall()
        rows = con.execute(
            f"SELECT observation_id, {DELIVERY_COLUMN} FROM lake.laboratory.epj_observations"
        ).fetchall()
    finally:
        con.close()
    return log, rows


def _assert_matches_ledger(ledger: list[dict]) -> None:
    log, rows = _lake_state()
    ids = [m for m, _, _ in log]
    assert len(ids) == len(set(ids)), "a message was consumed twice"
    assert set(ids) == {e["message_id"] for e in ledger}, "a message was lost"
    published = [r[0] for r in rows]
    assert len(published) == len(set(published)), "an event was published twice"
    clean = {e["resource_id"] for e in ledger if e["defect"] is None}
    assert set(published) == clean
    outcome = {m: (o, r) for m, o, r in log}
    assert {d for _, d in rows} == {m for m, (o, _) in outcome.items() if o == "published"}
    for entry in ledger:
        if entry["defect"] is not None:
            got = outcome[entry["message_id"]]
            assert got[0] == "quarantined" and got[1] in REASON[entry["defect"]], (entry, got)


@contextmanager
def _consumer(queue: str, fault: str | None, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A consumer process writing to ``logs``.out/.err (files: nobody has to drain a pipe).

    Killed and reaped on the way out, whatever happened: a failed assertion or a
    timeout must not leave a consumer sleeping at its fault point.
    """
    env = dict(os.environ)
    env.pop("REGIONLAB_STREAM_FAULT", None)
    if fault:
        env["REGIONLAB_STREAM_FAULT"] = fault
    with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regionlab.streaming", REF, "--queue", queue,
             "--idle-exit", "3", "--max-events", "40"],
            env=env, stdout=out, stderr=err,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _kill_at(queue: str, point: str, marker: Path) -> None:
    logs = marker.with_name(f"consumer-{point}")
    with _consumer(queue, f"{point}:2:{marker}", logs) as proc:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, logs.with_suffix(".err").read_text()
            assert time.monotonic() < deadline, "the consumer never reached the fault point"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_a_killed_consumer_loses_and_duplicates_nothing(
    region: Settings, product: Product, queue: str, tmp_path: Path
) -> None:
    ledger = _feed(region, product, queue, 200, defect_rate=0.15, duplicate_rate=0.05)
    assert {e["defect"] for e in ledger} >= set(REASON)
    _kill_at(queue, "before_commit", tmp_path / "before")  # batch 2 audited, not committed
    _kill_at(queue, "after_commit", tmp_path / "after")  # batch 2 committed, not acknowledged
    logs = tmp_path / "consumer-final"
    with _consumer(queue, None, logs) as proc:
        proc.wait(timeout=300)
    out = logs.with_suffix(".out").read_text()
    assert proc.returncode == 0, logs.with_suffix(".err").read_text()
    _assert_matches_ledger(ledger)
    skipped = int(out.split('"skipped": ')[1].split(",")[0])
    assert skipped >= 1  # the batch committed before the second kill came back and was skipped
    reasons = {r for r, _, _, _ in quarantine_zone.summary(region, REF)}
    assert reasons >= {"invalid_resource", "invalid_cpr", "identifier_in_text"}
    details = " ".join(str(d) for d in _details(region))
    for entry in ledger:  # reasons and details name paths and kinds, never a value
        assert entry["resource_id"] not in details


def _details(settings: Settings) -> list[str]:
    import duckdb

    con = duckdb.connect(str(quarantine_zone.zone_file(settings, REF)), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT DISTINCT detail FROM quarantine").fetchall()
                if r[0]]  # fmt: skip
    finally:
        con.close()


def test_an_erased_persons_events_never_reach_the_lake(
    region: Settings, product: Product, queue: str
) -> None:
    population = Population.load(region.sources_dir)
    erased = population.cpr[0]
    key = load_key()
    con = lake.connect()
    try:
        statements = erased_persons.add_statements(
            person_keys([erased], key), key.key_id, "req-stream-test", dt.datetime.now(dt.UTC)
        )
        with lake.write_lock(con, "lake"), lake.transaction(con):
            for sql, params in statements:
                con.execute(sql, params)
    finally:
        con.close()
    only_erased = Population([erased, population.cpr[1]], population.first_name[:2],
                             population.last_name[:2], population.departments)  # fmt: skip
    publish_feed(
        [product], region.sources_dir, ledger_path(region), rate=Rate(rate=2000), count=60,
        queue=queue, population=only_erased, defect_rate=0.0, duplicate_rate=0.0,
    )  # fmt: skip
    summary = consume(product, region, queue=queue, idle_exit_seconds=2, max_events=100)
    assert summary.received == 60
    erased_key = person_keys([erased], key)[0]
    other_key = person_keys([population.cpr[1]], key)[0]
    con = lake.connect(read_only=True)
    try:
        keys = dict(con.execute(
            "SELECT person_key, count(*) FROM lake.laboratory.epj_observations GROUP BY 1"
        ).fetchall())  # fmt: skip
        # Each micro-batch is a publish snapshot of the product (the catalogue reads them).
        published = [s for s in lake.list_snapshots(con) if s.published_ref == REF]
    finally:
        con.close()
    assert erased_key not in keys
    assert published and published[-1].info["key_id"] == key.key_id
    assert keys[other_key] == summary.published > 0
    assert summary.quarantined == 60 - summary.published
    counts = quarantine_zone.counts(region, REF)
    assert counts == {"erased_person": summary.quarantined}
    con_q = __import__("duckdb").connect(str(quarantine_zone.zone_file(region, REF)))
    try:
        kept = con_q.execute("SELECT count(*) FROM quarantine WHERE raw IS NOT NULL").fetchone()
    finally:
        con_q.close()
    assert kept == (0,)  # no value of the erased person is kept, not even in quarantine
