"""Processes for the multi-process lake tests (run as a script, not collected by pytest).

writer:   publish snapshots k = start..end of two products with a known invariant
reader:   touch a ready file, then keep reading until a stop file appears, checking
          every read is a whole snapshot
appender: append ``count`` batches of 1000 rows tagged with a worker id
          (and touch an optional ready file once connected)
streamer: append ``count`` micro-batches of 3 rows (inlined) to ``stream.events``,
          ids ``worker * 100000 + batch * 10 + row``

The lake location comes from the environment (``REGIONLAB_VAR`` /
``REGIONLAB_LAKE_*``), exactly as in production code.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from regionlab import lake

BATCH = 1000


def app_sum(k: int) -> int:
    """sum(x) of ``demo.app`` after k appends of 1000 rows valued 1..k."""
    return BATCH * k * (k + 1) // 2


def rep_sum(k: int) -> int:
    """sum(x) of ``demo.rep`` at version k: x = 0 .. k*1000-1."""
    n = k * BATCH
    return n * (n - 1) // 2


def write_version(con, k: int) -> None:
    lake.publish(con, "demo", "app", f"SELECT {k} AS x FROM range({BATCH})", mode="append")
    lake.publish(con, "demo", "rep", f"SELECT range AS x FROM range({k * BATCH})")


def writer(start: int, end: int, pause: float = 0.0) -> None:
    con = lake.connect()
    for k in range(start, end + 1):
        write_version(con, k)
        time.sleep(pause)  # lets a reader interleave even when commits are quick
    print(json.dumps({"written": end}))


def check(row: tuple, table: str) -> tuple[int, str | None]:
    """The k a read shows, and a description of the violation if it is not whole."""
    count, total = row
    if count % BATCH:
        return -1, f"{table}: {count} rows is not a multiple of {BATCH}"
    k = count // BATCH
    expected = app_sum(k) if table == "app" else rep_sum(k)
    if total != expected:
        return k, f"{table}: k={k} sum {total} != {expected}"
    return k, None


def reader(stop_file: str, ready_file: str) -> None:
    stop = Path(stop_file)
    reads = 0
    seen: dict[str, set[int]] = {"app": set(), "rep": set()}
    seen_long: set[int] = set()  # versions seen through the long-lived connection
    violations: list[str] = []
    errors: list[str] = []
    con = lake.connect(read_only=True)
    Path(ready_file).touch()
    last_round = False
    while True:
        if stop.exists():
            last_round = True  # one more read after the writer finished
        # Mostly the long-lived connection, every fourth read a fresh one.
        fresh = reads % 4 == 3
        c = lake.connect(read_only=True) if fresh else con
        try:
            for table in ("app", "rep"):
                row = c.execute(f"SELECT count(*), coalesce(sum(x), 0) FROM lake.demo.{table}")
                k, problem = check(row.fetchone(), table)
                seen[table].add(k)
                if not fresh and table == "app":
                    seen_long.add(k)
                if problem:
                    violations.append(problem)
            # Both tables in one query: one transaction, so one snapshot — except that
            # the writer publishes them separately, so rep may lag app by at most one.
            pair = c.execute(
                "SELECT (SELECT count(*) FROM lake.demo.app), (SELECT count(*) FROM lake.demo.rep)"
            ).fetchone()
            if not (0 <= pair[0] - pair[1] <= BATCH):
                violations.append(f"app/rep counts {pair} not from one snapshot sequence")
            reads += 1
        except Exception as exc:  # report, do not hide: the test asserts there are none
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            if len(errors) > 20:
                break
        finally:
            if fresh:
                c.close()
        if last_round:
            break
        time.sleep(0.002)
    print(
        json.dumps(
            {
                "reads": reads,
                "seen_app": sorted(seen["app"]),
                "seen_rep": sorted(seen["rep"]),
                "seen_long": sorted(seen_long),
                "violations": violations[:20],
                "errors": errors[:20],
            }
        )
    )


def appender(worker: int, count: int, ready_file: str | None = None) -> None:
    con = lake.connect()
    if ready_file:
        Path(ready_file).touch()  # connected; the next step is the first publish
    for _ in range(count):
        lake.publish(
            con,
            "demo",
            "shared",
            f"SELECT {worker} AS worker, range AS x FROM range({BATCH})",
            mode="append",
            extra_info={"worker": worker},
        )
    print(json.dumps({"worker": worker, "appended": count}))


def streamer(worker: int, count: int, ready_file: str) -> None:
    con = lake.connect()
    Path(ready_file).touch()
    for batch in range(count):
        ids = [worker * 100_000 + batch * 10 + row for row in range(3)]
        lake.publish(
            con,
            "stream",
            "events",
            f"SELECT unnest({ids}) AS event_id, {worker} AS worker",
            mode="append",
        )
    print(json.dumps({"worker": worker, "batches": count}))


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "writer":
        writer(int(args[0]), int(args[1]), float(args[2]) if len(args) > 2 else 0.0)
    elif role == "reader":
        reader(args[0], args[1])
    elif role == "appender":
        appender(int(args[0]), int(args[1]), *args[2:3])
    elif role == "streamer":
        streamer(int(args[0]), int(args[1]), args[2])
    else:
        raise SystemExit(f"unknown role {role}")
