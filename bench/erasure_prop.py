"""Erasure proportional to the person (issue 23): file rewrite + statistics-scoped proof
against the whole-table rewrite + full decoding scan, on copies of one published var.

Usage (the var must have been run with the person-ordered layout)::

    REGIONLAB_VAR=/tmp/erasure-prop-var python -m bench.erasure_prop --persons 1 50

For each number of persons, the var is restored twice from a pristine copy (``cp -a``,
made once beside it as ``<var>-pristine``; the catalogue records the data folder's path,
so trials run at the var's own path) and the same persons
(CPR numbers from the persons extract that have contacts, kept in memory only) are
erased in a fresh process per copy:

* ``new``: :func:`regionlab.erasure.erase` as it is (rewrite the files whose key range
  holds the persons; decode only the files the statistics do not exclude);
* ``old``: the same call with the file plan disabled (every affected table rewritten
  whole, as before) and ``full_scan=True`` (every data file decoded) — the previous
  erasure and, in its scan part, the independent audit.

Both must verify. Prints one line per run with the wall time, the decoding scan's
share, files rewritten and decoded, and the machine's load average.

Other modes: ``--relayout`` rewrites REGIONLAB_VAR's lake in the publish layout (a lake
published before it); ``--lake-rows N`` measures the lake part alone on one lab-shaped
table of N rows in a fresh lake under REGIONLAB_VAR (publish with and without the layout,
then file rewrite + scoped decode against whole-table rewrite + full decode); ``--sources``
and ``--no-sources-copy`` pick the persons from a read-only sources folder and leave
``sources/`` out of the copies (a region-scale var). ``BENCH_PROFILE=<file>`` writes a
cProfile of each trial.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path


def _cprs(n: int, sources: Path | None = None) -> list[str]:
    import duckdb

    from regionlab.privacy.identifiers import is_valid_cpr
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.wap.sources import find_extracts

    settings, registry = get_settings(), load_domains()

    def files(ref: str) -> list[str]:
        folder = sources or settings.sources_dir
        return [str(f.path) for f in find_extracts(folder, registry.product(ref))]

    con = duckdb.connect()
    rows = con.execute(
        "SELECT DISTINCT p.cpr FROM read_csv(?, header=true, all_varchar=true, ignore_errors=true)"
        " p WHERE p.cpr IN (SELECT cpr FROM read_parquet(?)) ORDER BY hash(p.cpr) LIMIT ?",
        [files("population/persons"), files("patient_administration/contacts"), n * 3],
    ).fetchall()
    con.close()
    return [r[0] for r in rows if is_valid_cpr(r[0])][:n]


def trial(mode: str, n: int, cprs: list[str] | None = None) -> dict[str, object]:
    """One erasure in this process (REGIONLAB_VAR points at a copy)."""
    from regionlab.erasure import erase, lake_delete, make_request
    from regionlab.steps import observe

    cprs = cprs or _cprs(n)
    if mode == "old":
        lake_delete._plan = lambda *a, **k: None  # every affected table rewritten whole
    steps: dict[str, float] = defaultdict(float)

    @contextmanager
    def timer(name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            steps[name] += time.perf_counter() - start

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    with observe(timer):
        receipt = erase(
            make_request(f"BENCH-{mode}-{n}", "benchmark", cprs), full_scan=mode == "old"
        )
    seconds = time.perf_counter() - start
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    v = receipt.verification
    snap_info: dict[str, object] = {}
    from regionlab import lake

    con = lake.connect(read_only=True)
    try:
        snaps = lake.list_snapshots(con)
        snap_info = snaps[-1].info if snaps else {}
    finally:
        con.close()
    return {
        "mode": mode,
        "persons": len(cprs),
        "seconds": round(seconds, 2),
        "verified": bool(v.passed),
        "rows": receipt.rows_total,
        "files_rewritten": sum((snap_info.get("files_rewritten") or {}).values()),
        "tables_rewritten_whole": len(snap_info.get("tables_rewritten") or []),
        "data_files_decoded": v.data_files_scanned,
        "data_files_excluded": v.data_files_excluded_by_statistics,
        "decode_seconds": v.data_files_scan_seconds,
        "steps": {k: round(s, 2) for k, s in steps.items()},
        "workspaces": {
            w.project_id: {"rows": sum(w.rows.values()), "rebuilt": w.rebuilt}
            for w in receipt.removed.workspaces
        },
        "workspace_rows_left": sum(v.workspace_rows_found.values()),
        "load1_before": round(load_before, 1),
        "load1_after": round(os.getloadavg()[0], 1),
    }


def relayout() -> dict[str, int]:
    """Rewrite every person-level table of REGIONLAB_VAR's lake in the publish layout
    (ordered by person_key, bounded files): what a re-publish does, without re-ingesting.
    For a lake published before the layout existed (the shared region-scale var)."""
    from regionlab import lake
    from regionlab.lake.publishing import LAYOUT_OPTIONS
    from regionlab.sql import quote_ident

    con = lake.connect()
    files: dict[str, int] = {}
    try:
        with lake.write_lock(con):
            for name, value in LAYOUT_OPTIONS.items():
                con.execute(f"CALL lake.set_option('{name}', '{value}')")
        for schema, table in lake.list_tables(con):
            cols = {
                r[0]
                for r in con.execute(
                    f"DESCRIBE lake.{quote_ident(schema)}.{quote_ident(table)}"
                ).fetchall()
            }
            if "person_key" not in cols or schema.startswith("_"):
                continue
            name = f"lake.{quote_ident(schema)}.{quote_ident(table)}"
            with lake.write_lock(con), lake.transaction(con):
                con.execute(
                    f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name} ORDER BY person_key"
                )
            files[f"{schema}/{table}"] = len(lake.data_files(con, schema, table))
        snap = lake.current_snapshot(con)
        older = [x.id for x in lake.list_snapshots(con) if x.id < snap]
        if older:
            lake.expire_snapshots(con, versions=older)
        lake.cleanup_files(con)
    finally:
        con.close()
    return files


def lake_proxy(rows: int, counts: list[int]) -> list[dict[str, object]]:
    """The lake part alone on one lab-results-shaped table of ``rows`` rows (13 per person),
    in a fresh lake under REGIONLAB_VAR: file rewrite + statistics-scoped decode ("new")
    against ``CREATE OR REPLACE`` of the table + decode of every file ("old", today's
    statement, unordered), each followed by the expiry and file clean-up an erasure does.
    All "new" runs go first (an "old" rewrite loses the layout)."""
    from regionlab import lake
    from regionlab.erasure import lake_delete
    from regionlab.erasure.verify import Verification, files_excluded_by_statistics, scan_files
    from regionlab.privacy.keys import PseudonymKey

    key = PseudonymKey(b"p" * 32)
    con = lake.connect()
    out: list[dict[str, object]] = []
    persons = max(rows // 13, 1)
    # The source rows in random order, in a DuckDB table beside the lake.
    con.execute(
        f"""CREATE TEMP TABLE src AS
            SELECT sha256(CAST(i % {persons} AS VARCHAR)) AS person_key,
                   'S' || CAST(i AS VARCHAR) AS sample_id, 'NPU' || CAST(i % 900 AS VARCHAR) AS npu,
                   TIMESTAMP '2020-01-01' + to_seconds(i) AS sampled_at, (i % 97) / 10.0 AS value
            FROM range({rows}) r(i) ORDER BY hash(i)"""
    )
    # The layout's cost at publish: the same rows written without it (the statement before).
    start = time.perf_counter()
    with lake.write_lock(con), lake.transaction(con):
        con.execute("CREATE SCHEMA IF NOT EXISTS lake.lab")
        con.execute("CREATE TABLE lake.lab.unordered AS SELECT * FROM temp.main.src")
    unordered = time.perf_counter() - start
    with lake.write_lock(con), lake.transaction(con):
        con.execute("DROP TABLE lake.lab.unordered")
    start = time.perf_counter()
    lake.publish(con, "lab", "results", "SELECT * FROM temp.main.src")
    out.append({"publish_ordered_s": round(time.perf_counter() - start, 1),
                "publish_unordered_s": round(unordered, 1), "rows": rows,
                "files": len(lake.data_files(con, "lab", "results"))})  # fmt: skip
    con.execute("DROP TABLE temp.main.src")
    data_dir = lake_delete.data_folder()
    picked = 0
    for mode in ("new", "old"):
        for n in counts:
            keys = [
                r[0]
                for r in con.execute(
                    # Spread over the key space, away from person 0 (whose rows hold the
                    # table's minimum sample id and time: a table statistic, i.e. the
                    # whole-table fallback, which this proxy does not mean to measure).
                    f"SELECT sha256(CAST((i * 7919) % {persons} AS VARCHAR)) "
                    f"FROM range({picked + 1}, {picked + 1 + n}) r(i)"
                ).fetchall()
            ]
            picked += n
            pred = lake_delete.keys_in_sql(keys)
            d = lake_delete.TableDeletion("lab", "results", pred, None, tuple(keys))
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            with lake.write_lock(con):
                if mode == "new":
                    change = lake_delete.apply(con, [d], message="bench", extra_info={})
                    snap = change.snapshot_id
                else:
                    with lake.transaction(con):
                        con.execute(
                            f"CREATE OR REPLACE TABLE {d.qualified} AS SELECT * FROM "
                            f"{d.qualified} WHERE ({pred}) IS NOT TRUE"
                        )
                    snap = lake.current_snapshot(con)
            t1 = time.perf_counter()
            lake_delete.forget_before(con, snap)
            t2 = time.perf_counter()
            v = Verification()
            excluded = files_excluded_by_statistics(keys, ()) if mode == "new" else set()
            scan_files(v, data_dir, key, keys, [], excluded)
            t3 = time.perf_counter()
            out.append({
                "mode": mode, "persons": n, "rewrite_s": round(t1 - t0, 2),
                "expire_cleanup_s": round(t2 - t1, 2), "decode_s": round(t3 - t2, 2),
                "total_s": round(t3 - t0, 2), "files_decoded": v.data_files_scanned,
                "files_excluded": v.data_files_excluded_by_statistics,
                "found": sum(v.data_file_rows_found.values()), "load1": round(load, 1),
            })  # fmt: skip
            print(json.dumps(out[-1]), flush=True)
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--trial", choices=["new", "old"])
    parser.add_argument("--cprs-stdin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sources", type=Path, help="pick the persons from this sources folder (read only)"
    )
    parser.add_argument(
        "--no-sources-copy",
        action="store_true",
        help="leave sources/ out of the copies (with --sources: a region-scale var)",
    )
    parser.add_argument("--modes", nargs="+", default=["new", "old"])
    parser.add_argument(
        "--relayout", action="store_true", help="rewrite REGIONLAB_VAR's lake in the new layout"
    )
    parser.add_argument(
        "--lake-rows", type=int, help="the lake part alone on one table of this many rows"
    )
    args = parser.parse_args()
    if args.lake_rows:
        first = lake_proxy(args.lake_rows, args.persons)[0]
        print(json.dumps(first))
        return
    if args.relayout:
        start = time.perf_counter()
        files = relayout()
        print(json.dumps({"relayout_seconds": round(time.perf_counter() - start, 1), **files}))
        return
    if args.trial:
        given = sys.stdin.read().split() if args.cprs_stdin else None
        print(json.dumps(trial(args.trial, args.persons[0], given)))
        return
    var = Path(os.environ["REGIONLAB_VAR"])
    # The catalogue records the data folder's absolute path: every trial runs at the var's
    # own path, on a fresh copy of a pristine copy made once.
    pristine = var.with_name(var.name + "-pristine")
    skip = ["--exclude", "/sources"] if args.no_sources_copy else []
    if not pristine.exists():
        subprocess.run(["rsync", "-a", *skip, f"{var}/", f"{pristine}/"], check=True)
    env = dict(os.environ)
    for name in ("REGIONLAB_LAKE_CATALOG", "REGIONLAB_LAKE_DATA"):
        env.pop(name, None)
    key = var / "secrets" / "pseudonym.key"
    if key.is_file():
        env["REGIONLAB_KEY_FILE"] = str(key)
    env["DAGSTER_HOME"] = str(var / "dagster")
    # Cached bytecode, as an installed CLI has (the helpers' shell sets this to 1).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        for n in args.persons:
            cprs = _cprs(n, args.sources)  # the same persons for every mode; memory only
            for mode in args.modes:
                subprocess.run(
                    ["rsync", "-a", "--delete", *skip, f"{pristine}/", f"{var}/"], check=True
                )
                out = subprocess.run(
                    [sys.executable, "-m", "bench.erasure_prop", "--trial", mode,
                     "--persons", str(n), "--cprs-stdin"],
                    env=env, check=False, capture_output=True, text=True,
                    input="\n".join(cprs),
                )  # fmt: skip
                if out.returncode:
                    raise SystemExit(f"trial {mode} {n} failed:\n{out.stderr[-3000:]}")
                print(out.stdout.strip().splitlines()[-1], flush=True)
    finally:
        subprocess.run(["rsync", "-a", "--delete", *skip, f"{pristine}/", f"{var}/"], check=True)


if __name__ == "__main__":
    main()
