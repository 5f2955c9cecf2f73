"""One small new delivery → published, audited and catalogued: how long a user waits.

    uv run python -m bench.incremental_delivery --var /path/to/var [--var another] \
        [--rows 1000] [--rounds 3]

Each ``--var`` must be fully published already (e.g. after ``regionlab demo`` or a
region-scale ``regionlab run``); it is changed: every round adds one contacts
delivery of ``--rows`` rows (copied from the latest delivery with new contact ids and
start times one day later, so they are new rows, not duplicates) and times the whole
``regionlab run`` a data steward would start (process start, preflight, Dagster,
write–audit–publish of the product, its derived products, catalogue emission).

Baseline in the same round: the data work alone — a fresh ``python`` process that
reads the same delivery file with DuckDB and writes it to Parquet. Giving two
``--var`` of different sizes shows whether the wait depends on the lake's size.
Prints a Markdown table (medians) and the load average; each run's own summary (its
per-product outcome, counts and times, never a value) is kept as
``<var>/bench-incremental-<round>.log``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

CONTACTS = Path("sources") / "lpr3" / "contacts"
RUN = (
    "import sys; sys.argv = ['regionlab', 'run']\n"
    "import cli\n"
    "try:\n    cli.main()\nexcept SystemExit as exc:\n    sys.exit(exc.code)\n"
)
BASELINE = (
    "import sys, duckdb\n"
    "duckdb.sql(f\"COPY (SELECT * FROM read_parquet('{sys.argv[1]}')) "
    "TO '{sys.argv[2]}' (FORMAT parquet)\")\n"
)


def _latest(folder: Path) -> Path:
    files = sorted(folder.glob("contacts_*.parquet"))
    if not files:
        raise SystemExit(f"{folder}: no contacts delivery; run regionlab synth first")
    return files[-1]


def _next_delivery(folder: Path, rows: int) -> Path:
    """A delivery dated the day after the latest, made of new rows (new ids, later times).

    The ids carry the delivery's date (``K`` + MMDD + a 5-digit number), so no two
    deliveries of this bench share one, in one invocation or across invocations.
    """
    latest = _latest(folder)
    day = date.fromisoformat(latest.stem.removeprefix("contacts_")) + timedelta(days=1)
    target = folder / f"contacts_{day.isoformat()}.parquet"
    tag = f"K{day:%m%d}"
    duckdb.sql(
        f"COPY (SELECT * REPLACE ('{tag}' || lpad(CAST(row_number() OVER () AS VARCHAR), 5, '0')"
        f" AS contact_id, start_time + INTERVAL 1 DAY AS start_time,"
        f" end_time + INTERVAL 1 DAY AS end_time)"
        f" FROM read_parquet('{latest}') LIMIT {rows}) TO '{target}' (FORMAT parquet)"
    )
    return target


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, done.stdout


def _round(var: Path, rows: int, env: dict[str, str], repo: Path) -> dict[str, float]:
    delivery = _next_delivery(var / CONTACTS, rows)
    scratch = var / "bench-incremental.parquet"
    base, _ = _timed([sys.executable, "-c", BASELINE, str(delivery), str(scratch)], env, repo)
    scratch.unlink(missing_ok=True)
    run, out = _timed([sys.executable, "-c", RUN], {**env, "REGIONLAB_VAR": str(var)}, repo)
    (var / f"bench-incremental-{delivery.stem}.log").write_text(out, encoding="utf-8")
    if "patient_administration/contacts: published" not in out:
        raise SystemExit(f"the run did not mention contacts:\n{out[-2000:]}")
    return {"run": run, "baseline": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, action="append", required=True)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    load_before = os.getloadavg()[0]
    results: dict[Path, list[dict[str, float]]] = {var: [] for var in args.var}
    for _ in range(args.rounds):
        for var in args.var:
            results[var].append(_round(var, args.rows, env, repo))
    print(
        f"{args.rounds} rounds, one new contacts delivery of {args.rows:,} rows each; 1-minute "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print("| var | `regionlab run` median (s) | min (s) | baseline: copy the delivery (s) | × |")
    print("|---|---:|---:|---:|---:|")
    for var, rounds in results.items():
        run = statistics.median(r["run"] for r in rounds)
        base = statistics.median(r["baseline"] for r in rounds)
        low = min(r["run"] for r in rounds)
        print(f"| {var} | {run:.2f} | {low:.2f} | {base:.2f} | {run / base:.1f} |")


if __name__ == "__main__":
    main()
