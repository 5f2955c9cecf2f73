"""Feasibility latency through the access service, side by side with the direct call.

Usage (on a ``var/`` with a lake, e.g. after ``make demo`` or ``make bench``)::

    .tools/bin/uv run --frozen python -m bench.service_latency --clients 10 --queries 5

It issues one token per researcher in that ``var/`` (fresh names each run, so no earlier
run's history, budget or lockout counts), starts the embedded service the way the CLI does
(127.0.0.1, a free port; stopped at the end) and times cohort counts four ways, each after a
warm-up:

- ``direct, no defence``: :func:`regionlab.research.feasibility.feasibility` in this process,
  one at a time, a new lake connection each (the floor of the old in-process path);
- ``direct, defence``: the same with the service's differencing defence and noise key;
- ``service, 1 client``: the Python client, one query at a time;
- ``service, N clients``: N threads, each its own researcher and token, ``--queries`` queries
  each, all at once (the issue's target: p95 under 1 s with 10 concurrent researchers).

Each researcher's series is a realistic refinement, not one query repeated (which the
defence locks out after ``lockout_after``): query ``q`` moves the first lab criterion's window
start ``q`` days earlier, so every query is near-identical to that researcher's earlier ones
and the defence compares memberships with them (its most expensive path).

Before timing, it waits until the service's in-memory copy of the newest snapshot
(``copy_lake``, :mod:`service.snapshot_copy`) is built (``GET /lake/tables`` says which
snapshot the copy holds) and reports how long that took; with ``copy_lake = false`` in the
service's settings it times the lake path instead.

It prints a Markdown table (median, p95, max, queries per second and CPU seconds per query:
this process's for the direct paths, the service process's for the service rows) for
``bench/RESULTS.md``, with the load average before and after (other sessions share the
machine; CPU time per query hardly depends on that, wall time does).
Every query is a real audited one: the audit log of that ``var/`` grows by each.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from regionlab.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _row(name: str, seconds: list[float], wall: float, cpu: float | None) -> str:
    per_query = "–" if cpu is None else f"{cpu / len(seconds):.3f}"
    return (
        f"| {name} | {len(seconds)} | {statistics.median(seconds):.3f} | {_p95(seconds):.3f} "
        f"| {max(seconds):.3f} | {len(seconds) / wall:.1f} | {per_query} |"
    )


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; Linux ``/proc``.

    Unlike wall time it hardly depends on what else runs on the machine, so it says what
    an answer costs when the machine is shared."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _used(pid: int | None, before: float | None) -> float | None:
    after = _cpu_seconds(pid)
    return None if before is None or after is None else after - before


def _wait_for_copy(client: Any, limit: float = 900.0) -> str:
    """Wait for the service's in-memory copy of the newest snapshot; say how it went."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        tables = client.call("GET", "/lake/tables")
        if tables.get("in_memory_snapshot") == tables["snapshot"]:
            waited = time.perf_counter() - start
            return f"in-memory copy of snapshot {tables['snapshot']} ready after {waited:.1f} s"
        if "in_memory_snapshot" not in tables:
            return "service without an in-memory copy"
        time.sleep(0.5)
    return f"no in-memory copy after {limit:.0f} s: the lake path was timed"


def _series(base: dict[str, Any], q: int) -> dict[str, Any]:
    """Query ``q`` of a researcher's series: the first lab window starts ``q`` days earlier."""
    cohort = copy.deepcopy(base)
    for rule in cohort.get("include", []):
        if rule.get("kind") == "lab":
            window = rule.setdefault("within", {})
            window["from"] = f"-{1096 + q}d"
            break
    else:
        raise SystemExit("--cohort needs a lab inclusion rule to build a series from")
    return cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=REPO / "cohorts" / "t2d_region.yaml")
    parser.add_argument("--by", default="sex,age_band")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--queries", type=int, default=5, help="Queries per client.")
    args = parser.parse_args()

    from regionlab.research.client import (
        ServiceClient,
        ensure_embedded,
        running_embedded,
        stop_embedded,
    )
    from regionlab.research.cohort import load_cohort
    from regionlab.research.disclosure import server_secret
    from regionlab.research.feasibility import feasibility
    from service.app import token_store
    from service.roles import Role
    from service.settings import load_service_settings

    base = load_cohort(args.cohort).model_dump(mode="json", by_alias=True, exclude_none=True)
    settings = load_service_settings()
    defence = settings.disclosure if settings.disclosure.enabled else None
    run = f"bench-{int(time.time())}"
    tokens = {
        f"{run}-{i}": token_store().issue(f"{run}-{i}", Role.researcher)
        for i in range(max(args.clients, 1) + 1)
    }
    names = list(tokens)
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    url = ensure_embedded()
    try:
        client = ServiceClient(url, tokens[names[0]])
        # Warm-up (extensions, code lists, the service's lake connection); query 0 of a series.
        feasibility(_series(base, 0), args.by, user=f"{run}-warm", floor=settings.min_cell)
        client.feasibility(_series(base, 0), args.by)
        copy_state = _wait_for_copy(client) if settings.copy_lake else "copy_lake off"
        service_pid = int(info["pid"]) if (info := running_embedded()) else None

        def direct_series(user: str, protected: bool) -> tuple[list[float], float, float]:
            seconds: list[float] = []
            cpu = time.process_time()
            start = time.perf_counter()
            for q in range(1, args.queries + 1):
                t = time.perf_counter()
                feasibility(
                    _series(base, q), args.by, user=user, floor=settings.min_cell,
                    defence=defence if protected else None,
                    secret=server_secret() if protected and defence else None,
                )  # fmt: skip
                seconds.append(time.perf_counter() - t)
            return seconds, time.perf_counter() - start, time.process_time() - cpu

        direct, direct_wall, direct_cpu = direct_series(f"{run}-direct", False)
        guarded, guarded_wall, guarded_cpu = direct_series(f"{run}-direct-defence", True)

        single: list[float] = []
        cpu = _cpu_seconds(service_pid)
        start = time.perf_counter()
        for q in range(1, args.queries + 1):
            t = time.perf_counter()
            client.feasibility(_series(base, q), args.by)
            single.append(time.perf_counter() - t)
        single_wall = time.perf_counter() - start
        single_cpu = _used(service_pid, cpu)

        concurrent: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients)

        errors: list[str] = []

        def researcher(name: str) -> None:
            mine = ServiceClient(url, tokens[name])
            barrier.wait()
            for q in range(1, args.queries + 1):
                t = time.perf_counter()
                try:
                    mine.feasibility(_series(base, q), args.by)
                except UserError as exc:  # a refusal would end the series: report, not time
                    errors.append(str(exc)[:80])
                    return
                with lock:
                    concurrent.append(time.perf_counter() - t)

        threads = [threading.Thread(target=researcher, args=(n,)) for n in names[1:]]
        cpu = _cpu_seconds(service_pid)
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        concurrent_wall = time.perf_counter() - start
        concurrent_cpu = _used(service_pid, cpu)
    finally:
        stop_embedded()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cohort {base['name']} by {args.by or '-'}; defence {'on' if defence else 'off'}; ")
    print(f"{os.cpu_count()} CPUs, load average {load_before} before, {load} at the end;")
    print(f"{copy_state}; seconds per query")
    if errors:
        print(f"refused or failed: {len(errors)}: {errors[0]}")
    print()
    print("| path | queries | median | p95 | max | queries/s | CPU s/query |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(_row("direct, no defence (in process)", direct, direct_wall, direct_cpu))
    print(_row("direct, defence (in process)", guarded, guarded_wall, guarded_cpu))
    print(_row("service, 1 client", single, single_wall, single_cpu))
    print(
        _row(
            f"service, {args.clients} clients at once",
            concurrent,
            concurrent_wall,
            concurrent_cpu,
        )
    )


if __name__ == "__main__":
    main()
