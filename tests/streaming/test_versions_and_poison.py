"""FHIR updates replace the published event; a poison message is dead-lettered, not looped.

Real RabbitMQ and a real DuckLake: messages are published to a private queue and
the consumer runs in this process.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid

import duckdb
import pika
import pytest

from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.streaming import broker
from regionlab.streaming.consumer import consume
from regionlab.streaming.deadletter import REASON as DEAD
from regionlab.streaming.tables import STREAM_LOG
from regionlab.synth.fhir_events import EventFactory, Population, body
from regionlab.wap import quarantine_zone
from tests.streaming.conftest import REF

pytestmark = pytest.mark.slow

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _send(queue: str, resources: list[dict[str, object]]) -> list[str]:
    """Publish ``resources`` in order; returns their message ids."""
    con = broker.connect()
    try:
        channel = con.channel()
        broker.declare(channel, queue)
        ids = []
        for resource in resources:
            message_id = f"t-{uuid.uuid4().hex[:12]}"
            channel.basic_publish(
                exchange="",
                routing_key=queue,
                body=body(resource),
                properties=pika.BasicProperties(
                    delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id
                ),
            )
            ids.append(message_id)
        return ids
    finally:
        con.close()


def _clean(region: Settings, n: int) -> list[dict[str, object]]:
    factory = EventFactory(Population.load(region.sources_dir), seed=3, defect_rate=0.0)
    return [factory.resource("Observation", T0 + dt.timedelta(seconds=i), None) for i in range(n)]


def _version(resource: dict[str, object], seconds: float, value: float) -> dict[str, object]:
    """The same resource id, ``seconds`` later, with another value (a FHIR update)."""
    out = copy.deepcopy(resource)
    out["meta"] = {"lastUpdated": (T0 + dt.timedelta(seconds=seconds)).isoformat()}
    quantity = out["valueQuantity"]
    assert isinstance(quantity, dict)
    quantity["value"] = value
    return out


def _rows(con: duckdb.DuckDBPyConnection, observation_id: object) -> list[tuple]:
    return con.execute(
        "SELECT value, recorded_at FROM lake.laboratory.epj_observations WHERE observation_id = ?",
        [observation_id],
    ).fetchall()


def _log(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str | None]]:
    rows = con.execute(
        f"SELECT message_id, outcome, reason FROM {STREAM_LOG.qualified} WHERE product = ?",
        [REF],
    ).fetchall()
    return {m: (o, r) for m, o, r in rows}


def test_a_newer_version_replaces_the_event_and_a_copy_is_a_duplicate(
    region: Settings, product: Product, queue: str
) -> None:
    first = _clean(region, 6)
    a, b, d = first[0], first[1], first[2]
    assert "valueQuantity" in a and "valueQuantity" in b
    _send(queue, first)
    consume(product, region, queue=queue, idle_exit_seconds=1.5)

    # Micro-batch 2: a correction of a, an exact copy of b, and two versions of c in one batch.
    c = _clean(region, 8)[7]
    assert "valueQuantity" in c
    ids = _send(
        queue,
        [
            _version(a, 3600, 111.0),  # newer: replaces a's row
            copy.deepcopy(d),  # the same version again: a duplicate
            _version(b, -3600, 5.0),  # older than the published b: a duplicate too
            _version(c, 100, 1.0),  # two versions of a new event in one batch:
            _version(c, 200, 2.0),  # only the newest is published
        ],
    )
    summary = consume(product, region, queue=queue, idle_exit_seconds=1.5)
    assert summary.received == 5
    con = lake.connect(read_only=True)
    try:
        assert _rows(con, a["id"]) == [(111.0, dt.datetime(2026, 12, 1, 9, 0))]
        assert [v for v, _ in _rows(con, b["id"])] == [b["valueQuantity"]["value"]]  # type: ignore[index]
        assert len(_rows(con, d["id"])) == 1
        assert [v for v, _ in _rows(con, c["id"])] == [2.0]
        log = _log(con)
        total = con.execute("SELECT count(*) FROM lake.laboratory.epj_observations").fetchone()
    finally:
        con.close()
    assert total == (7,)  # 6 first events + c, each once
    assert [log[m] for m in ids] == [
        ("published", None),
        ("quarantined", "duplicate_event"),
        ("quarantined", "duplicate_event"),
        ("quarantined", "superseded_event"),
        ("published", None),
    ]


def test_a_poison_message_is_dead_lettered_and_the_rest_published(
    region: Settings, product: Product, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = _clean(region, 12)
    ids = _send(queue, resources)
    poison = ids[5]
    monkeypatch.setenv("REGIONLAB_STREAM_POISON", poison)

    summary = consume(product, region, queue=queue, idle_exit_seconds=1.5)

    assert summary.received == 12
    assert summary.published == 11
    assert broker.queue_depth(queue) == 0  # every message acknowledged: nothing comes back
    con = lake.connect(read_only=True)
    try:
        log = _log(con)
        published = {
            r[0]
            for r in con.execute(
                "SELECT observation_id FROM lake.laboratory.epj_observations"
            ).fetchall()
        }
    finally:
        con.close()
    assert log[poison] == ("quarantined", DEAD)
    assert all(log[m] == ("published", None) for m in ids if m != poison)
    assert published == {r["id"] for i, r in enumerate(resources) if i != 5}
    assert quarantine_zone.counts(region, REF) == {DEAD: 1}
    zone = duckdb.connect(str(quarantine_zone.zone_file(region, REF)), read_only=True)
    try:
        sql = "SELECT detail FROM quarantine WHERE extract = ?"
        detail = zone.execute(sql, [poison]).fetchone()
    finally:
        zone.close()
    assert detail == ("RuntimeError in 3 attempts",)

    # A redelivered copy of the dead-lettered message is found in the stream log and skipped
    # before any audit step runs (the test hook is off: nothing else could skip it).
    monkeypatch.delenv("REGIONLAB_STREAM_POISON")
    con = broker.connect()
    try:
        channel = con.channel()
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=body(resources[5]),
            properties=pika.BasicProperties(message_id=poison),
        )
    finally:
        con.close()
    again = consume(product, region, queue=queue, idle_exit_seconds=1.5)
    assert (again.received, again.skipped, again.published) == (0, 1, 0)


def test_when_every_message_fails_the_consumer_stops_instead_of_quarantining_the_stream(
    region: Settings, product: Product, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _send(queue, _clean(region, 12))
    monkeypatch.setenv("REGIONLAB_STREAM_POISON", "*")  # as a spec the lake no longer fits

    with pytest.raises(RuntimeError, match="5 messages in a row failed"):
        consume(product, region, queue=queue, idle_exit_seconds=1.5)

    assert broker.queue_depth(queue) == 12  # nothing acknowledged: all back for a restart
    con = lake.connect(read_only=True)
    try:
        log = _log(con)
    finally:
        con.close()
    assert sorted(log.values()) == [("quarantined", DEAD)] * 5  # at most the streak went
