"""Full load of every source product, before/after a code change, next to two baselines.

For a same-session A/B on a shared machine: each variant runs in its own process
(``--code DIR`` puts another checkout first on ``sys.path``, e.g. a ``git archive``
of the previous commit), over the same ``REGIONLAB_VAR`` (synthesised beforehand)::

    python -m bench.staging_path --variant after
    python -m bench.staging_path --variant before --code /tmp/before
    python -m bench.staging_path --variant baseline

A variant runs ``engine.run_source_product`` (write–audit–publish incl. GX, full
refresh) for every source product in one process, like ``regionlab run``; the
baseline runs, per product, one DuckDB statement that reads the extracts, keys the
CPR (HMAC once per distinct value, joined back) and writes Parquet, and a plain
``CREATE TABLE AS read_*``. Prints one JSON line: wall and CPU seconds (user+sys of
the process, all threads — less sensitive to the machine's load than wall time),
per product and per engine step, and the load average before and after. Counts
and timings only, never a value.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Steps:
    """Wall and CPU seconds per engine step (:func:`regionlab.steps.observe`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = {}

    def window(self, name: str) -> Any:
        from contextlib import contextmanager

        @contextmanager
        def timed() -> Any:
            wall, cpu = time.perf_counter(), _cpu()
            try:
                yield
            finally:
                entry = self.seconds.setdefault(name, {"wall": 0.0, "cpu": 0.0})
                entry["wall"] += time.perf_counter() - wall
                entry["cpu"] += _cpu() - cpu

        return timed()


def _engine(products: list[Any]) -> dict[str, Any]:
    from pipelines.quality_hook import quality_hook
    from regionlab.settings import get_settings
    from regionlab.steps import observe
    from regionlab.wap import engine

    settings = get_settings()
    out: dict[str, Any] = {}
    steps = _Steps()
    for product in products:
        wall, cpu = time.perf_counter(), _cpu()
        with observe(steps.window):
            run = engine.run_source_product(
                product, settings, full_refresh=True, quality_hook=quality_hook
            )
        out[product.ref] = {
            "wall": time.perf_counter() - wall,
            "cpu": _cpu() - cpu,
            "rows_read": run.rows_read,
            "rows_published": run.rows_published,
            "quarantined": dict(sorted(run.quarantined.items())),
            "status": str(run.status),
        }
    return {"products": out, "steps": steps.seconds}


def _baseline(products: list[Any]) -> dict[str, Any]:
    import duckdb

    from bench.stages import _reader_sql
    from regionlab.privacy.keys import load_key
    from regionlab.privacy.pseudonym import hmac_params, hmac_sql
    from regionlab.settings import get_settings
    from regionlab.sql import quote_ident, quote_literal
    from regionlab.wap.sources import find_extracts

    settings = get_settings()
    params = hmac_params(load_key())
    target = settings.var_dir / "bench_baseline"
    target.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for product in products:
        assert product.source is not None
        files = [str(f.path) for f in find_extracts(settings.sources_dir, product)]
        reader = _reader_sql(product.source.format.value, files)
        parquet = target / f"{product.ref.replace('/', '.')}.parquet"
        db = target / "plain.duckdb"
        db.unlink(missing_ok=True)
        con = duckdb.connect()
        wall, cpu = time.perf_counter(), _cpu()
        if product.person_column:
            cpr = quote_ident(product.person_column)
            con.execute(
                f"""COPY (WITH src AS (SELECT * FROM {reader}),
                     keys AS (SELECT v, {hmac_sql("v")} AS person_key
                              FROM (SELECT DISTINCT CAST({cpr} AS VARCHAR) AS v FROM src))
                     SELECT src.* EXCLUDE ({cpr}), keys.person_key FROM src
                     LEFT JOIN keys ON CAST(src.{cpr} AS VARCHAR) = keys.v)
                   TO {quote_literal(str(parquet))} (FORMAT parquet)""",
                params,
            )
        else:
            con.execute(f"COPY (SELECT * FROM {reader}) TO {quote_literal(str(parquet))}")
        one = {"wall": time.perf_counter() - wall, "cpu": _cpu() - cpu}
        con.close()
        con = duckdb.connect(str(db))
        wall, cpu = time.perf_counter(), _cpu()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}")
        plain = {"wall": time.perf_counter() - wall, "cpu": _cpu() - cpu}
        con.close()
        db.unlink(missing_ok=True)
        parquet.unlink(missing_ok=True)
        out[product.ref] = {"one_statement": one, "plain_load": plain}
    return {"products": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--code", type=Path, help="a checkout to import regionlab from first")
    args = parser.parse_args()
    if args.code is not None:
        sys.path.insert(0, str(args.code))
    start_load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), _cpu()
    import regionlab
    from regionlab.spec import load_domains

    products = [p for p in load_domains().batch_order() if not p.is_derived and p.source]
    result = _baseline(products) if args.variant == "baseline" else _engine(products)
    result.update(
        variant=args.variant,
        code=str(Path(regionlab.__file__).parent.parent),
        total_wall=time.perf_counter() - wall,
        total_cpu=_cpu() - cpu,
        load=[round(start_load, 1), round(os.getloadavg()[0], 1)],
        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
