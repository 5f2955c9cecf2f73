"""``make bench``: every stage at each scale, next to its baseline, into ``bench/RESULTS.md``.

Usage::

    uv run python -m bench.run                      # 10k and 100k (3 runs each), then the region
    uv run python -m bench.run --scales 10000,100000 --repeat 3
    uv run python -m bench.run --scales 1200000 --skip-pseudo --max-load 3 --wait-minutes 20

Each scale runs in its own folder under ``--var`` (default ``/tmp/regionlab-bench``):
synthesis, the plain-DuckDB load of every extract, every source product's
write–audit–publish run, GX vs SQL on the staged contacts, derived products,
catalogue emission, feasibility counts, a workspace build and (when it
exists) erasure of one person. Small scales repeat the whole sequence from
scratch and report medians; scales from ``--single-from`` persons run once.
The 10-million-row keying comparison runs once per invocation unless
``--skip-pseudo``.

Raw results accumulate in ``bench/results/bench.json`` (one entry per scale, a
later run replaces that scale), so a region-scale run added later lands in
the same RESULTS.md. The generated block of RESULTS.md is replaced; the
hand-written analysis around it is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import ROOT, StageFailed, run_child
from bench.report import write_results

RESULTS_JSON = ROOT / "bench" / "results" / "bench.json"
CONTACTS = "patient_administration/contacts"


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def wait_for_load(max_load: float, minutes: float) -> float:
    """Wait until the 1-minute load average is below ``max_load`` (or give up after ``minutes``)."""
    deadline = time.monotonic() + minutes * 60
    while (load := load1()) >= max_load and time.monotonic() < deadline:
        print(f"  load average {load} >= {max_load}; waiting", flush=True)
        time.sleep(30)
    return load


class Recorder:
    """Runs child stages for one repetition and keeps each result with the load around it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.results: dict[str, dict[str, Any]] = {}

    def run(self, key: str, stage: str, **args: Any) -> dict[str, Any]:
        before = load1()
        start = time.perf_counter()
        try:
            result = run_child(stage, args, self.env)
        except StageFailed as exc:
            result = {"windows": {}, "rows": 0, "error": str(exc)[-600:]}
            print(f"  {key}: FAILED {str(exc)[-300:]}", flush=True)
        result["child_wall_s"] = time.perf_counter() - start
        result["load_before"], result["load_after"] = before, load1()
        self.results[key] = result
        return result


def one_repetition(scale: int, var: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The whole sequence from an empty var folder; returns every stage's raw result."""
    from regionlab.privacy.keys import init_key
    from regionlab.spec import load_domains

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    key_file = var / "secrets" / "pseudonym.key"
    key_file.parent.mkdir(parents=True)
    env = {"REGIONLAB_VAR": str(var), "REGIONLAB_KEY_FILE": str(key_file),
           "DAGSTER_HOME": str(var / "dagster")}  # fmt: skip
    os.environ.update(env)
    init_key(key_file)
    rec = Recorder(env)
    registry = load_domains()
    products = registry.batch_order()

    r = rec.run("synthesis", "synth", persons=scale, seed=args.seed, defect_rate=args.defect_rate)
    print(f"  synthesis {r['windows'].get('synthesis', {}).get('seconds', 0):.1f}s", flush=True)
    for p in products:
        if p.is_derived:
            continue
        rec.run(f"plain_load:{p.ref}", "plain_load", product=p.ref)
        r = rec.run(f"source:{p.ref}", "source_product", product=p.ref,
                    keep_staging=p.ref == CONTACTS)  # fmt: skip
        total = r["windows"].get("total", {}).get("seconds", 0)
        print(f"  {p.ref}: {r.get('rows', 0):,} rows, {total:.1f}s, {r.get('status')}", flush=True)
    rec.run("gx_vs_sql", "gx_vs_sql", product=CONTACTS, repeat=args.gx_repeat)
    for p in products:
        if p.is_derived:
            r = rec.run(f"derived:{p.ref}", "derived_product", product=p.ref)
            print(f"  {p.ref}: {r.get('rows', 0):,} rows, {r.get('status')}", flush=True)
    rec.run("catalog", "catalog_emit")
    rec.run("feasibility", "feasibility_count", repeat=args.feasibility_repeat)
    rec.run("workspace", "workspace_build")
    rec.run("erasure", "erasure_one")
    return rec.results


def gx_only(scale: int, var: Path, sources: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Re-run only the contacts pipeline and GX vs SQL on existing extracts (``--gx-only``)."""
    from regionlab.privacy.keys import init_key

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    shutil.copytree(sources, var / "sources", copy_function=os.link)
    key_file = var / "secrets" / "pseudonym.key"
    key_file.parent.mkdir(parents=True)
    env = {"REGIONLAB_VAR": str(var), "REGIONLAB_KEY_FILE": str(key_file)}
    os.environ.update(env)
    init_key(key_file)
    rec = Recorder(env)
    rec.run("source_for_gx", "source_product", product=CONTACTS, keep_staging=True)
    return rec.run("gx_vs_sql", "gx_vs_sql", product=CONTACTS, repeat=args.gx_repeat)


def _median_result(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage key and window: the median over repetitions (other fields from the first)."""
    out: dict[str, Any] = {}
    for key in reps[0]:
        runs = [r[key] for r in reps if key in r]
        merged = dict(runs[0])
        windows: dict[str, dict[str, float]] = {}
        for name in runs[0].get("windows", {}):
            vals = [r["windows"][name] for r in runs if name in r.get("windows", {})]
            windows[name] = {
                "seconds": statistics.median(v["seconds"] for v in vals),
                "peak_rss_mb": statistics.median(v["peak_rss_mb"] for v in vals),
                "all_seconds": [v["seconds"] for v in vals],
            }
        merged["windows"] = windows
        for field in ("peak_rss_mb", "gx_s", "sql_s", "feasibility_s", "feasibility_by_s",
                      "baseline_s"):  # fmt: skip
            vals = [r[field] for r in runs if field in r]
            if vals:
                merged[field] = statistics.median(vals)
        merged["load_before"] = min(r["load_before"] for r in runs)
        merged["load_after"] = max(r["load_after"] for r in runs)
        out[key] = merged
    return out


def run_pseudo(args: argparse.Namespace, var: Path) -> dict[str, Any]:
    """The 10M-row keying comparison on one table, all three approaches in the same run."""
    from regionlab.privacy.keys import init_key

    var.mkdir(parents=True, exist_ok=True)
    key_file = var / "pseudo.key"
    if not key_file.exists():
        init_key(key_file)
    env = {"REGIONLAB_VAR": str(var), "REGIONLAB_KEY_FILE": str(key_file)}
    rec = Recorder(env)
    path = str(var / "cprs.duckdb")
    rec.run("setup", "pseudo_setup", path=path, rows=args.pseudo_rows,
            distinct=args.pseudo_distinct)  # fmt: skip
    rec.run("engine", "pseudo_engine", path=path, repeat=args.pseudo_repeat)
    rec.run("limit", "pseudo_limit", path=path, repeat=args.pseudo_repeat)
    rec.run("pandas", "pseudo_pandas", path=path, repeat=args.pandas_repeat)
    Path(path).unlink(missing_ok=True)
    return rec.results


def machine() -> dict[str, Any]:
    import duckdb
    import psutil

    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="regionlab benchmarks against their baselines")
    parser.add_argument(
        "--scales",
        default="10000,100000,1200000",
        help="persons per scale, comma-separated (the region is 1,200,000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions at small scales")
    parser.add_argument(
        "--single-from",
        type=int,
        default=1_000_000,
        help="scales of at least this many persons run once",
    )
    parser.add_argument("--var", type=Path, default=Path("/tmp/regionlab-bench"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--defect-rate", type=float, default=0.01)
    parser.add_argument("--gx-repeat", type=int, default=3)
    parser.add_argument("--feasibility-repeat", type=int, default=5)
    parser.add_argument("--pseudo-rows", type=int, default=10_000_000)
    parser.add_argument("--pseudo-distinct", type=int, default=600_000)
    parser.add_argument("--pseudo-repeat", type=int, default=3)
    parser.add_argument("--pandas-repeat", type=int, default=1)
    parser.add_argument("--skip-pseudo", action="store_true")
    parser.add_argument(
        "--max-load",
        type=float,
        default=3.0,
        help="wait for the 1-min load average to drop below this before a single-run scale",
    )
    parser.add_argument("--wait-minutes", type=float, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the generated var folders")
    parser.add_argument(
        "--gx-only",
        type=Path,
        default=None,
        help="extracts folder of one scale: re-measure only GX vs SQL there",
    )
    args = parser.parse_args()  # fmt: skip

    store: dict[str, Any] = (
        json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"scales": {}}
    )
    store["machine"] = machine()
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    if args.gx_only is not None:
        result = gx_only(scales[0], args.var / f"{scales[0]}-gx", args.gx_only, args)
        store["scales"][str(scales[0])]["median"]["gx_vs_sql"] = result
        shutil.rmtree(args.var / f"{scales[0]}-gx", ignore_errors=True)
        _save(store)
        print(f"GX {result.get('gx_s')}s, SQL {result.get('sql_s')}s, {result.get('error', '')}")
        return
    for scale in scales:
        single = scale >= args.single_from
        repeat = 1 if single else args.repeat
        if single:
            wait_for_load(args.max_load, args.wait_minutes)
        print(f"scale {scale:,} persons, {repeat} repetition(s), load {load1()}", flush=True)
        var = args.var / str(scale)
        started = dt.datetime.now().isoformat(timespec="seconds")
        reps = []
        for i in range(repeat):
            print(f" repetition {i + 1}/{repeat}", flush=True)
            reps.append(one_repetition(scale, var, args))
        store["scales"][str(scale)] = {
            "persons": scale, "repeat": repeat, "started": started,
            "finished": dt.datetime.now().isoformat(timespec="seconds"),
            "median": _median_result(reps),
        }  # fmt: skip
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)
        _save(store)
    if not args.skip_pseudo:
        print(f"keying: {args.pseudo_rows:,} rows, {args.pseudo_distinct:,} distinct", flush=True)
        store["pseudo"] = {
            "rows": args.pseudo_rows, "distinct": args.pseudo_distinct,
            "started": dt.datetime.now().isoformat(timespec="seconds"),
            "results": run_pseudo(args, args.var / "pseudo"),
        }  # fmt: skip
        _save(store)
    path = write_results(store)
    print(f"wrote {path}")


def _save(store: dict[str, Any]) -> None:
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(store, indent=1, sort_keys=True), encoding="utf-8")
    write_results(store)


if __name__ == "__main__":
    main()
