"""The benchmark stages, each run in its own child process: ``python -m bench.stages NAME ARGS``.

Every stage returns one result (``bench.measure.run_child`` adds its peak RSS) with its timed
windows, row counts and its own peak RSS. Pipeline stages call the real engine
(``regionlab.wap.engine.run_source_product`` / ``run_derived_product``) and time its
steps by wrapping the step functions the engine looks up at call time, so the
numbers are the production code path, not a re-implementation. Results hold
counts and timings only, never a CPR number, pseudonym or key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import ROOT, RssSampler

AS_OF = dt.date(2026, 11, 1)
PROJECT = "t2d-hba1c"
PERMIT = ROOT / "permits" / f"{PROJECT}.yaml"
COHORT = ROOT / "cohorts" / "t2d_region.yaml"


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# --------------------------------------------------------------------------- synthesis


def synth(persons: int, seed: int, defect_rate: float) -> dict[str, Any]:
    from regionlab.settings import get_settings
    from regionlab.synth.generate import generate

    out = get_settings().sources_dir
    with RssSampler() as s, s.window("synthesis"):
        manifest = generate(out, persons, seed, defect_rate, as_of=AS_OF, deliveries=3)
    rows = sum(f.rows for f in manifest.files)
    by_extract: dict[str, int] = {}
    for f in manifest.files:
        name = Path(f.path).name.rsplit("_", 1)[0]
        by_extract[name] = by_extract.get(name, 0) + f.rows
    return {"windows": s.windows, "rows": rows, "by_extract": by_extract}


# --------------------------------------------------------------------------- plain DuckDB load


def _reader_sql(fmt: str, paths: list[str]) -> str:
    from regionlab.sql import quote_literal

    listing = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    if fmt == "csv":
        return f"read_csv({listing}, header=true, ignore_errors=true)"
    if fmt == "parquet":
        return f"read_parquet({listing}, union_by_name=true)"
    return f"read_json({listing}, format='newline_delimited', ignore_errors=true)"


def plain_load(product: str) -> dict[str, Any]:
    """The practical limit: DuckDB reads the same extract files into a table, nothing else."""
    import duckdb

    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.wap.sources import find_extracts

    settings = get_settings()
    spec = load_domains().product(product)
    assert spec.source is not None
    files = [str(f.path) for f in find_extracts(settings.sources_dir, spec)]
    target = settings.var_dir / "bench_plain" / f"{product.replace('/', '.')}.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    with RssSampler() as s, s.window("plain_load"):
        con = duckdb.connect(str(target))
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM {_reader_sql(spec.source.format.value, files)}"
        )
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    target.unlink(missing_ok=True)
    return {"windows": s.windows, "rows": rows, "files": len(files)}


# --------------------------------------------------------------------------- source product


def source_product(product: str, keep_staging: bool = False) -> dict[str, Any]:
    """One full write–audit–publish run with every engine step timed.

    The engine marks its steps (:mod:`regionlab.steps`); the sampler's windows
    observe them, so the timings are the production code path, untouched.
    ``keep_staging`` leaves the staging file for :func:`gx_vs_sql` (which removes it):
    the engine deletes it at the end of a run because it holds raw CPR numbers.
    """
    from pipelines.quality_hook import quality_hook
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.steps import observe
    from regionlab.wap import engine

    spec = load_domains().product(product)
    with RssSampler() as s, observe(s.window), s.window("total"):
        run = engine.run_source_product(
            spec,
            get_settings(),
            full_refresh=True,
            quality_hook=quality_hook,
            keep_staging=keep_staging,
        )
    return {
        "windows": s.windows,
        "rows": run.rows_read,
        "rows_published": run.rows_published,
        "quarantined": run.quarantined.total(),
        "status": run.status,
        "failed_checks": [c.check for c in run.blocking_failures],
    }


def gx_vs_sql(product: str, repeat: int) -> dict[str, Any]:
    """GX over the staged table the pipeline left behind vs the same rules as one SQL query."""
    import duckdb

    from bench.quality import hand_written_sql
    from quality import suites
    from quality.runner import validate_duckdb
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.wap.sources import find_extracts

    settings = get_settings()
    spec = load_domains().product(product)
    ref_date = max(f.date for f in find_extracts(settings.sources_dir, spec))
    staging = settings.staging_dir / f"{spec.domain}.{spec.id}.duckdb"
    items = suites.expectations(spec, ref_date)
    expectations = [i.expectation for i in items]

    def run_sql() -> dict[str, int]:
        con = duckdb.connect(str(staging), read_only=True)
        try:
            cur = con.execute(hand_written_sql(spec, ref_date))
            return dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        finally:
            con.close()

    gx_times, sql_times = [], []
    with RssSampler() as s:
        for _ in range(repeat):
            with s.window("gx"):
                seconds, outcomes = _timed(
                    lambda: validate_duckdb(staging, "staged", expectations, suite_name="bench")
                )
            gx_times.append(seconds)
            with s.window("sql"):
                seconds, counts = _timed(run_sql)
            sql_times.append(seconds)
    mismatches = []
    for item, outcome in zip(items, outcomes, strict=True):
        gx_count = (
            outcome.element_count
            if item.rule.type == "row_count_between"
            else outcome.unexpected_count
        )
        if outcome.status == "errored" or gx_count != counts[item.rule.id]:
            mismatches.append(item.rule.id)
    con = duckdb.connect(str(staging), read_only=True)
    rows = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    con.close()
    for stale in (staging, staging.with_suffix(".duckdb.wal")):  # raw CPR numbers: never keep
        stale.unlink(missing_ok=True)
    return {
        "windows": s.windows,
        "rows": rows,
        "gx_s": statistics.median(gx_times),
        "sql_s": statistics.median(sql_times),
        "rules": len(items),
        "mismatches": mismatches,
    }


# --------------------------------------------------------------------------- derived product


def derived_product(product: str) -> dict[str, Any]:
    """A derived product's run, and its SQL alone over the same lake as the baseline."""
    from pipelines.quality_hook import quality_hook
    from regionlab import lake
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.steps import observe
    from regionlab.wap import engine

    spec = load_domains().product(product)
    assert spec.derived is not None
    with RssSampler() as s:
        with observe(s.window), s.window("total"):
            run = engine.run_derived_product(spec, get_settings(), quality_hook=quality_hook)
        con = lake.connect(read_only=True)
        try:
            con.execute("USE lake")
            with s.window("baseline_sql"):
                con.execute(f"CREATE TEMP TABLE __bench AS {spec.derived.sql}")
        finally:
            con.close()
    return {
        "windows": s.windows,
        "rows": run.rows_read,
        "status": run.status,
        "failed_checks": [c.check for c in run.blocking_failures],
    }


# --------------------------------------------------------------------------- catalogue


def catalog_emit() -> dict[str, Any]:
    """emit_catalog with its parts timed; the JSON-file sink alone is the baseline."""
    import catalog.publish as pub
    from regionlab.steps import observe

    with RssSampler() as s, observe(s.window), s.window("total"):
        result = pub.emit_catalog()
    return {"windows": s.windows, "rows": result.proposals}


# --------------------------------------------------------------------------- research


def feasibility_count(repeat: int) -> dict[str, Any]:
    """Audited, suppressed cohort counts vs the compiled cohort SQL alone (the limit)."""
    from regionlab import lake
    from regionlab.research.cohort import as_cohort
    from regionlab.research.cohort_sql import compile_cohort
    from regionlab.research.feasibility import feasibility

    plain, by, base = [], [], []
    with RssSampler() as s:
        feasibility(COHORT, user="bench")  # warm-up: first use loads extensions and code lists
        for _ in range(repeat):
            with s.window("feasibility"):
                seconds, result = _timed(lambda: feasibility(COHORT, user="bench"))
            plain.append(seconds)
            with s.window("feasibility_by"):
                seconds, _ = _timed(lambda: feasibility(COHORT, "sex,age_band", user="bench"))
            by.append(seconds)
        compiled = compile_cohort(as_cohort(COHORT))
        for _ in range(repeat):
            with s.window("baseline_sql"):
                start = time.perf_counter()
                con = lake.connect(read_only=True)
                con.execute(f"SELECT count(DISTINCT person_key) FROM ({compiled.sql})").fetchone()
                con.close()
            base.append(time.perf_counter() - start)
        con = lake.connect(read_only=True)
        counts = lake.table_row_counts(con)
        con.close()
    rows = sum(n for ref, n in counts.items() if ref.replace(".", "/") in result.products)
    return {
        "windows": s.windows,
        "rows": rows,
        "feasibility_s": statistics.median(plain),
        "feasibility_by_s": statistics.median(by),
        "baseline_s": statistics.median(base),
        "products": list(result.products),
    }


def workspace_build() -> dict[str, Any]:
    """A project workspace vs copying the same cohort's granted columns without re-keying."""
    import duckdb

    from regionlab import lake
    from regionlab.research.cohort_sql import compile_cohort
    from regionlab.research.permits import get_permit, register_permit
    from regionlab.research.workspace import build_workspace
    from regionlab.settings import get_settings
    from regionlab.sql import quote_ident

    register_permit(PERMIT, replace=True)
    with RssSampler() as s:
        with s.window("workspace"):
            manifest = build_workspace(PROJECT)
        permit = get_permit(PROJECT)
        compiled = compile_cohort(permit.inline_cohort)
        target = get_settings().var_dir / "bench_plain" / "workspace.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        with s.window("baseline_copy"):
            con = lake.connect(read_only=True)
            con.execute(f"ATTACH '{target}' AS ws")
            con.execute(f"CREATE TEMP TABLE c AS SELECT DISTINCT person_key FROM ({compiled.sql})")
            for i, grant in enumerate(permit.products):
                domain, name = grant.product.split("/")
                cols = ", ".join(quote_ident(c) for c in grant.columns)
                con.execute(
                    f"CREATE TABLE ws.t{i} AS SELECT {cols} FROM {lake.table_name(domain, name)} "
                    "WHERE person_key IN (SELECT person_key FROM c)"
                )
            con.close()
        target.unlink(missing_ok=True)
    del duckdb
    return {
        "windows": s.windows,
        "rows": sum(p.rows for p in manifest.products),
        "cohort_persons_over_100": manifest.cohort_persons > 100,
    }


def _one_person_cpr() -> str:
    """A CPR number from the persons extract that also has contacts (kept in memory only)."""
    import duckdb

    from regionlab.privacy.identifiers import is_valid_cpr
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.wap.sources import find_extracts

    settings, registry = get_settings(), load_domains()
    persons = [
        str(f.path)
        for f in find_extracts(settings.sources_dir, registry.product("population/persons"))
    ]
    contacts = [
        str(f.path)
        for f in find_extracts(
            settings.sources_dir, registry.product("patient_administration/contacts")
        )
    ]
    con = duckdb.connect()
    rows = con.execute(
        "SELECT p.cpr FROM read_csv(?, header=true, all_varchar=true, ignore_errors=true) p "
        "WHERE p.cpr IN (SELECT cpr FROM read_parquet(?)) LIMIT 50",
        [persons, contacts],
    ).fetchall()
    con.close()
    return next(r[0] for r in rows if is_valid_cpr(r[0]))


def erasure_one() -> dict[str, Any]:
    """Erasure of one person everywhere, with its steps timed.

    The baseline is the lake rewrite alone (``lake_delete.apply``: the DELETEs
    of every product in one DuckLake transaction); everything else in the
    erasure is what makes it provable (expiry, vacuum, quarantine, workspaces,
    verification, receipt).
    """
    from regionlab.erasure import erase, make_request
    from regionlab.steps import observe

    cpr = _one_person_cpr()
    with RssSampler() as s, observe(s.window), s.window("erasure"):
        receipt = erase(make_request("BENCH-1", "benchmark", [cpr]))
    del cpr
    return {
        "windows": s.windows,
        "rows": receipt.rows_total,
        "persons_found": receipt.persons_found,
        "verified": bool(receipt.verification.passed),
    }


# --------------------------------------------------------------------------- 10M-row keying


def pseudo_setup(path: str, rows: int, distinct: int) -> dict[str, Any]:
    """A table of ``rows`` CPR numbers (normalised form) over ``distinct`` persons.

    The numbers have a valid CPR shape and birth date (seventh digit 0–3 → 1900s)
    so they pass the engine's normalisation; which person a row belongs to is
    spread with ``hash`` so repeats are not adjacent.
    """
    import duckdb

    Path(path).unlink(missing_ok=True)
    con = duckdb.connect(path)
    con.execute(
        f"""CREATE TABLE persons AS SELECT i,
              lpad(CAST(1 + i % 28 AS VARCHAR), 2, '0') || lpad(CAST(1 + (i // 28) % 12 AS VARCHAR),
              2, '0') || lpad(CAST((i // 336) % 100 AS VARCHAR), 2, '0')
              || CAST(1000 + i // 33600 AS VARCHAR) AS cpr
            FROM range({distinct}) t(i)"""
    )
    con.execute(
        f"""CREATE TABLE src AS SELECT p.cpr FROM range({rows}) r(j)
            JOIN persons p ON p.i = hash(j) % {distinct}"""
    )
    rows_, distinct_ = con.execute("SELECT count(*), count(DISTINCT cpr) FROM src").fetchone()
    con.execute("DROP TABLE persons")
    con.close()
    return {"windows": {}, "rows": rows_, "distinct": distinct_}


def _key_bytes() -> bytes:
    from regionlab.privacy.keys import load_key

    return load_key().secret


def pseudo_engine(path: str, repeat: int) -> dict[str, Any]:
    """regionlab's keying (``add_person_key``: HMAC in DuckDB per distinct CPR, UPDATE back)."""
    import duckdb

    from regionlab.privacy.keys import load_key
    from regionlab.privacy.pseudonym import add_person_key

    key = load_key()
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS s (READ_ONLY)")
    times = []
    with RssSampler() as s:
        for _ in range(repeat):
            con.execute("CREATE OR REPLACE TABLE raw AS SELECT cpr FROM s.src")
            with s.window("engine"):
                seconds, _ = _timed(lambda: add_person_key(con, "raw", key, cpr_column="cpr"))
            times.append(seconds)
        sample = con.execute("SELECT cpr, person_key FROM raw USING SAMPLE 5 ROWS").fetchall()
    agree = all(
        hmac.new(key.secret, c.encode(), hashlib.sha256).hexdigest() == k for c, k in sample
    )
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    return {"windows": s.windows, "rows": rows, "seconds": times, "agrees_with_python": agree}


def pseudo_pandas(path: str, repeat: int) -> dict[str, Any]:
    """The approach people write by hand: pandas ``apply`` with ``hmac`` per row."""
    import duckdb

    key = _key_bytes()
    con = duckdb.connect(path, read_only=True)
    df = con.execute("SELECT cpr FROM src").df()
    con.close()
    times = []
    with RssSampler() as s:
        for _ in range(repeat):
            with s.window("pandas"):
                seconds, out = _timed(
                    lambda: df["cpr"].apply(
                        lambda c: hmac.new(key, c.encode(), hashlib.sha256).hexdigest()
                    )
                )
            times.append(seconds)
            del out
    return {"windows": s.windows, "rows": len(df), "seconds": times}


def pseudo_limit(path: str, repeat: int) -> dict[str, Any]:
    """The limit: Python ``hmac`` once per distinct CPR, then joined back to the rows in DuckDB."""
    import duckdb
    import pyarrow as pa

    key = _key_bytes()
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS s (READ_ONLY)")
    hash_times, total_times = [], []
    with RssSampler() as s:
        for _ in range(repeat):
            con.execute("DROP TABLE IF EXISTS out")
            start = time.perf_counter()
            with s.window("distinct"):
                distinct = [r[0] for r in con.execute("SELECT DISTINCT cpr FROM s.src").fetchall()]
            with s.window("hash_loop"):
                h0 = time.perf_counter()
                keys = [hmac.new(key, c.encode(), hashlib.sha256).hexdigest() for c in distinct]
                hash_times.append(time.perf_counter() - h0)
            with s.window("join_back"):
                mapping = pa.table({"cpr": distinct, "person_key": keys})
                con.register("mapping", mapping)
                con.execute(
                    "CREATE TABLE out AS SELECT r.cpr, m.person_key FROM s.src r "
                    "JOIN mapping m USING (cpr)"
                )
                con.unregister("mapping")
            total_times.append(time.perf_counter() - start)
    rows = con.execute("SELECT count(*) FROM out").fetchone()[0]
    return {
        "windows": s.windows,
        "rows": rows,
        "distinct": len(distinct),
        "hash_seconds": hash_times,
        "seconds": total_times,
    }


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "synth": synth,
    "plain_load": plain_load,
    "source_product": source_product,
    "gx_vs_sql": gx_vs_sql,
    "derived_product": derived_product,
    "catalog_emit": catalog_emit,
    "feasibility_count": feasibility_count,
    "workspace_build": workspace_build,
    "erasure_one": erasure_one,
    "pseudo_setup": pseudo_setup,
    "pseudo_engine": pseudo_engine,
    "pseudo_pandas": pseudo_pandas,
    "pseudo_limit": pseudo_limit,
}
