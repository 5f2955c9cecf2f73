"""Feasibility latency through the access service, side by side with the direct call.

Usage (on a ``var/`` with a lake, e.g. after ``make demo`` or ``make bench``)::

    .tools/bin/uv run --frozen python -m bench.service_latency --clients 10 --queries 5

It issues a token for ``bench-researcher`` in that ``var/``, starts the embedded service the
way the CLI does (127.0.0.1, a free port; stopped at the end) and times the same cohort
count three ways, each after a warm-up:

- ``direct``: :func:`regionlab.research.feasibility.feasibility` in this process, one at a time
  (the floor: no HTTP, no token check, no JSON);
- ``service, 1 client``: the Python client, one query at a time;
- ``service, N clients``: N threads, each its own client, ``--queries`` queries each, all at
  once (the issue's target: p95 under 1 s with 10 concurrent researchers).

It prints a Markdown table (median, p95, max, queries per second) for ``bench/RESULTS.md``.
Every query is a real audited one: the audit log of that ``var/`` grows by each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _row(name: str, seconds: list[float], wall: float) -> str:
    return (
        f"| {name} | {len(seconds)} | {statistics.median(seconds):.3f} | {_p95(seconds):.3f} "
        f"| {max(seconds):.3f} | {len(seconds) / wall:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=REPO / "cohorts" / "t2d_region.yaml")
    parser.add_argument("--by", default="sex,age_band")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--queries", type=int, default=5, help="Queries per client.")
    args = parser.parse_args()

    from regionlab.research.client import ServiceClient, ensure_embedded, stop_embedded
    from regionlab.research.cohort import load_cohort
    from regionlab.research.feasibility import feasibility
    from service.app import token_store
    from service.roles import Role

    cohort = load_cohort(args.cohort)
    token = token_store().issue("bench-researcher", Role.researcher, replace=True)
    url = ensure_embedded()
    try:
        client = ServiceClient(url, token)
        feasibility(cohort, args.by, user="bench")  # warm-up: extensions, code lists
        client.feasibility(cohort, args.by)

        direct: list[float] = []
        start = time.perf_counter()
        for _ in range(args.queries):
            t = time.perf_counter()
            feasibility(cohort, args.by, user="bench")
            direct.append(time.perf_counter() - t)
        direct_wall = time.perf_counter() - start

        single: list[float] = []
        start = time.perf_counter()
        for _ in range(args.queries):
            t = time.perf_counter()
            client.feasibility(cohort, args.by)
            single.append(time.perf_counter() - t)
        single_wall = time.perf_counter() - start

        concurrent: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients)

        def researcher() -> None:
            mine = ServiceClient(url, token)
            barrier.wait()
            for _ in range(args.queries):
                t = time.perf_counter()
                mine.feasibility(cohort, args.by)
                with lock:
                    concurrent.append(time.perf_counter() - t)

        threads = [threading.Thread(target=researcher) for _ in range(args.clients)]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        concurrent_wall = time.perf_counter() - start
    finally:
        stop_embedded()

    print(f"cohort {cohort.name} by {args.by or '-'}; {os.cpu_count()} CPUs; seconds per query")
    print()
    print("| path | queries | median | p95 | max | queries/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(_row("direct (in process)", direct, direct_wall))
    print(_row("service, 1 client", single, single_wall))
    print(_row(f"service, {args.clients} clients at once", concurrent, concurrent_wall))


if __name__ == "__main__":
    main()
