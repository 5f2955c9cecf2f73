"""Erasure reaches an erased person's messages still queued in RabbitMQ (issue 20).

The real broker and a real DuckLake: a person's events are published, half
consumed, half left in the queue; the erasure drains the queue through the
consumer, so afterwards no message of the person is queued, nothing of them is in
the lake, and the quarantine keeps none of their values.
"""

from __future__ import annotations

import pytest

from regionlab import lake
from regionlab.erasure import erase
from regionlab.erasure.requests import make_request
from regionlab.erasure.resolve import person_keys
from regionlab.privacy.keys import load_key
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.streaming import broker
from regionlab.streaming.consumer import consume
from regionlab.synth.fhir_events import Population
from regionlab.synth.stream_feed import Rate, publish_feed
from regionlab.wap import quarantine_zone
from tests.streaming.conftest import REF, ledger_path

pytestmark = pytest.mark.slow


def _feed(region: Settings, product: Product, queue: str, people: Population, seed: int) -> None:
    publish_feed(
        [product], region.sources_dir, ledger_path(region), rate=Rate(rate=2000), count=30,
        queue=queue, population=people, defect_rate=0.0, duplicate_rate=0.0, seed=seed,
    )  # fmt: skip


def _keys() -> dict[str, int]:
    con = lake.connect(read_only=True)
    try:
        return dict(con.execute(
            "SELECT person_key, count(*) FROM lake.laboratory.epj_observations GROUP BY 1"
        ).fetchall())  # fmt: skip
    finally:
        con.close()


def test_erasure_drains_the_persons_queued_messages(
    region: Settings, product: Product, queue: str
) -> None:
    population = Population.load(region.sources_dir)
    erased, other = population.cpr[0], population.cpr[1]
    people = Population([erased, other], population.first_name[:2], population.last_name[:2],
                        population.departments)  # fmt: skip
    _feed(region, product, queue, people, seed=1)
    consume(product, region, queue=queue, idle_exit_seconds=1.5)
    key = load_key()
    (erased_key,), (other_key,) = person_keys([erased], key), person_keys([other], key)
    before = _keys()
    assert before[erased_key] > 0 and before[other_key] > 0
    _feed(region, product, queue, people, seed=2)  # queued, not consumed
    assert broker.queue_depth(queue) == 30  # the control: without the drain they stay here

    receipt = erase(make_request("R-Q1", "indsigelse", [erased]), stream_queues={REF: queue})

    assert receipt.verification.passed, receipt.verification
    assert receipt.removed.stream_queues == {REF: 30}
    assert broker.queue_depth(queue) == 0  # no message of the person (or anyone) is queued
    after = _keys()
    assert erased_key not in after
    assert after[other_key] > before[other_key]  # the other person's queued events went on
    counts = quarantine_zone.counts(region, REF)
    assert counts.get("erased_person", 0) > 0
    zone = quarantine_zone.zone_file(region, REF).read_bytes()
    assert erased.encode() not in zone and erased.replace("-", "").encode() not in zone
