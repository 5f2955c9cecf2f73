"""Streaming lag: event time → committed (queryable) at a sustained rate and in a burst.

    uv run python -m bench.stream_lag [--duration 600] [--burst 10] [--burst-seconds 15]
    uv run python -m bench.stream_lag --hour-load   # an hour's events (115,200) at full speed

A fresh var/ (``--var``) with a small synthetic region; the synthetic EPJ feed
publishes to a private RabbitMQ queue (producer thread) while the consumer
publishes micro-batches (main thread), both as in ``regionlab demo``. The lag of
an event is from its own timestamp (``meta.lastUpdated``, stamped when the
producer sent it) to the moment its micro-batch's lake transaction committed: a
reader that starts a query after that sees it. Reported per phase (sustained,
burst) as p50/p95/p99, with the product's data files and the catalogue size after
the run (the consumer flushes inlined rows when it stops), against the same rows
published the batch way (one publish, Parquet) into a second lake. Prints one JSON object.

``--hour-load`` is the "files and catalogue after an hour" measurement, compressed: an
hour's worth of events at 32/s (115,200) is published as fast as the broker accepts
and consumed as fast as the consumer can; its lag figures are backlog, not freshness
(the result says so), its throughput, files, snapshots and catalogue size are the point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))], 3)


def _files(folder: Path) -> int:
    return len(list(folder.rglob("*.parquet"))) if folder.is_dir() else 0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def run(
    var: Path, seconds: float, burst: float, burst_seconds: float, events: int | None = None
) -> dict[str, Any]:
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    os.environ["REGIONLAB_VAR"] = str(var)
    os.environ["REGIONLAB_KEY_FILE"] = str(var / "secrets" / "pseudonym.key")
    from regionlab import lake
    from regionlab.privacy.keys import init_key
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.streaming import broker
    from regionlab.streaming.consumer import consume
    from regionlab.streaming.microbatch import BatchResult
    from regionlab.synth.generate import generate
    from regionlab.synth.stream_feed import Rate, publish_feed

    settings = get_settings()
    init_key(var / "secrets" / "pseudonym.key")
    generate(settings.sources_dir, persons=300, seed=5)
    product = load_domains().product("laboratory/epj_observations")
    queue = f"bench.stream.{uuid.uuid4().hex[:8]}"
    # --hour-load: ``events`` as fast as possible (the rate only paces an unbounded feed)
    rate = Rate(32.0, seconds, burst, burst_seconds) if events is None else Rate(1e6, 1e6)
    load_before = os.getloadavg()
    batches: list[tuple[float, BatchResult]] = []
    sent: list[Any] = []
    started = time.monotonic()

    def feed() -> None:
        ledger = var / "ledger.jsonl"
        sent.append(publish_feed([product], settings.sources_dir, ledger, rate=rate, queue=queue,
                                 count=events))  # fmt: skip

    def hook(_: Any, result: BatchResult) -> None:
        batches.append((time.monotonic() - started, result))

    producer = threading.Thread(target=feed, daemon=True)

    def ready() -> None:  # the consumer's start-up (connect, warm-up) is not lag
        nonlocal started
        started = time.monotonic()
        producer.start()

    try:
        summary = consume(
            product, settings, queue=queue, idle_exit_seconds=15,
            max_seconds=seconds + 300 if events is None else None,
            on_batch=hook, on_ready=ready,
        )  # fmt: skip
        producer.join(timeout=10)
    finally:
        broker.delete_queue(queue)
    # Phases by the time the batch's oldest event was sent: before the burst (the sustained
    # rate alone), the burst window, and after it (the sustained rate behind the backlog).
    burst_end = rate.burst_start + burst_seconds
    phases: dict[str, list[float]] = {"sustained": [], "burst": [], "after_burst": []}
    consumed_seconds = max((at for at, _ in batches), default=0.0)
    for at, result in batches:
        if events is not None:  # one phase: the backlog of a compressed hour
            phases["sustained"] += result.lags
            continue
        first_event = at - (result.lag(100) or 0)
        if burst <= 1 or first_event < rate.burst_start:
            phases["sustained"] += result.lags
        elif first_event < burst_end:
            phases["burst"] += result.lags
        else:
            phases["after_burst"] += result.lags
    con = lake.connect()
    try:
        # consume() flushed the product's inlined rows when it stopped (summary.flushed_rows)
        catalog = Path(str(settings.lake_dir)) / "catalog.sqlite"
        con.execute("CHECKPOINT __ducklake_metadata_lake")
        after = {
            "product_data_files": len(lake.data_files(con, product.domain, product.id)),
            "all_lake_files": _files(Path(str(settings.lake_dir))),
            "catalog_bytes": _size(catalog),
            "snapshots": len(lake.list_snapshots(con)),
        }
        rows = con.execute(f"SELECT count(*) FROM lake.{product.table}").fetchone()[0]
        con.execute(f"COPY (FROM lake.{product.table}) TO '{var}/rows.parquet'")
    finally:
        con.close()
    batch_path = _batch_path(var, product)
    return {
        "mode": "sustained + burst"
        if events is None
        else (
            f"an hour's load compressed: {events} events published as fast as possible; "
            "lag here is backlog, not freshness"
        ),
        "rate_per_s": 32.0 if events is None else None,
        "seconds": seconds if events is None else None,
        "consumer_seconds": round(consumed_seconds, 1),
        "events_per_s_consumed": round(summary.received / consumed_seconds, 1)
        if consumed_seconds
        else None,
        "load_average_before": load_before,
        "burst_factor": burst,
        "burst_seconds": burst_seconds,
        "load_average_after": os.getloadavg(),
        "batch_events": {
            "max": max((r.received for _, r in batches), default=0),
            "mean": round(summary.received / max(1, summary.batches), 1),
        },
        "events_sent": sent[0].sent if sent else None,
        "micro_batches": summary.batches,
        "published": summary.published,
        "quarantined": summary.quarantined,
        "lag_s": {
            name: {"events": len(v), "p50": _pct(v, 50), "p95": _pct(v, 95), "p99": _pct(v, 99)}
            for name, v in phases.items()
        },
        "stream_after_flush": after | {"flushed_rows": summary.flushed_rows, "rows": rows},
        "batch_path_same_rows": batch_path,
    }


def _batch_path(var: Path, product: Any) -> dict[str, Any]:
    """The same rows, published once the batch way (Parquet), into a lake of their own."""
    from regionlab.lake import LakeConfig, connect, data_files, publish

    root = var / "batch-lake"
    config = LakeConfig.embedded(root)
    con = connect(config)
    try:
        publish(con, product.domain, product.id, f"SELECT * FROM '{var}/rows.parquet'")
        con.execute("CHECKPOINT __ducklake_metadata_lake")
        files = len(data_files(con, product.domain, product.id))
    finally:
        con.close()
    return {"product_data_files": files, "all_lake_files": _files(root),
            "catalog_bytes": _size(root / "catalog.sqlite")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", "--duration", dest="seconds", type=float, default=60.0)
    parser.add_argument(
        "--hour-load", action="store_true", help="an hour's events at 32/s, as fast as possible"
    )
    parser.add_argument("--burst", type=float, default=10.0)
    parser.add_argument("--burst-seconds", type=float, default=15.0)
    parser.add_argument("--var", type=Path, default=Path("/tmp/rl-stream-bench"))
    args = parser.parse_args()
    events = int(3600 * 32) if args.hour_load else None
    out = run(args.var, args.seconds, args.burst, args.burst_seconds, events)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
