"""Two parts of an erasure's verification alone, before and after issue 23's workspace and
snapshot-query changes, alternating on one published var (read only).

Usage::

    REGIONLAB_VAR=<var with a project workspace> python -m bench.erasure_parts --persons 1 50

* ``workspace``: the verification's query per workspace table for ``n`` made-up keys (so
  nothing is found and every row is read): the whole row cast to text and regex-searched
  ("before"), the column-by-column source of :func:`regionlab.erasure.workspaces.table_source`
  ("after"), and equality on the VARCHAR columns alone (the floor);
* ``snapshots``: :func:`regionlab.erasure.verify.scan_lake_for_persons` for ``n`` persons of
  the lake (their rows are still there, so the counts found must agree) with the row-key
  subqueries OR-ed to the key condition ("before") and without them on person-keyed
  products ("after").

Prints one JSON line per measurement with the 1-minute load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def workspace(n: int, rounds: int) -> None:
    from regionlab.erasure import match
    from regionlab.erasure.duckdb_files import file_tables, open_file
    from regionlab.erasure.workspaces import (
        _manifest,
        hashed_columns,
        install_project_needles,
        project_key_of,
        table_source,
        workspace_files,
    )
    from regionlab.privacy.keys import load_key
    from regionlab.privacy.pseudonym import hmac_hex
    from regionlab.research.workspace_crypto import key_for_file

    key = load_key()
    for project, path in workspace_files().items():
        pkey = project_key_of(project, key)
        keys = [hmac_hex(key, f"bench-{i}") for i in range(n)]
        regex = match.key_regex(keys + [hmac_hex(pkey, k) for k in keys])
        hashed = hashed_columns(_manifest(path))
        con = open_file(path, key_for_file(path), read_only=True)
        try:
            install_project_needles(con, keys, [], pkey)
            tables = file_tables(con)
            for _ in range(rounds):
                for mode in ("before", "after", "equality only"):
                    load, start, found = os.getloadavg()[0], time.perf_counter(), 0
                    for t in tables:
                        if mode == "before":
                            src = f"SELECT rowid AS rid, CAST(t AS VARCHAR) AS txt, * FROM {t.qualified} t"  # noqa: E501
                            found += match.count_matches(con, src, key, regex, t.varchar_columns)
                        elif mode == "after":
                            src = table_source(t, hashed.get(f"{t.schema}.{t.table}", ("person_key",)))  # fmt: skip  # noqa: E501
                            found += match.count_matches(con, src, key, regex, t.varchar_columns)
                        else:
                            src = table_source(t, tuple(t.columns))
                            found += match.count_matches(con, src, None, None, t.varchar_columns)
                    print(json.dumps({
                        "part": "workspace", "project": project, "mode": mode, "keys": n,
                        "seconds": round(time.perf_counter() - start, 2), "found": found,
                        "load1": round(load, 1),
                    }), flush=True)  # fmt: skip
        finally:
            con.close()


def snapshots(n: int, rounds: int) -> None:
    from regionlab import lake
    from regionlab.erasure import predictions
    from regionlab.erasure.lake_delete import table_columns
    from regionlab.erasure.stores import SKIP_SCHEMAS
    from regionlab.erasure.verify import Verification, scan_lake_for_persons
    from regionlab.spec import load_domains
    from regionlab.sql import quote_ident, row_key_sql

    registry = load_domains()
    con = lake.connect(read_only=True)
    try:
        keys = [
            r[0]
            for r in con.execute(
                "SELECT person_key FROM lake.population.persons ORDER BY hash(person_key) LIMIT ?",
                [n],
            ).fetchall()
        ]
        row_keys: dict[str, list[str]] = {}
        for ref, cols in table_columns(con).items():
            product = registry.products.get(ref)
            if product is None or not product.row_key or "person_key" not in cols:
                continue
            if not all(k in cols for k in product.row_key):
                continue
            schema, table = ref.split("/")
            found = con.execute(
                f"SELECT {row_key_sql(list(product.row_key))} FROM "
                f"lake.{quote_ident(schema)}.{quote_ident(table)} "
                "WHERE person_key IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            ).fetchall()
            if found:
                row_keys[ref] = [r[0] for r in found]
    finally:
        con.close()
    for _ in range(rounds):
        for mode in ("before", "after"):
            v = Verification()
            load, start = os.getloadavg()[0], time.perf_counter()
            scan_lake_for_persons(
                v, registry, keys, row_keys, {},
                by_person_key_except=(
                    None if mode == "before" else (*SKIP_SCHEMAS, predictions.MODELS_SCHEMA)
                ),
            )  # fmt: skip
            print(json.dumps({
                "part": "snapshots", "mode": mode, "persons": n,
                "seconds": round(time.perf_counter() - start, 2),
                "found": sum(v.lake_rows_found.values()), "snapshots": len(v.snapshots_scanned),
                "load1": round(load, 1),
            }), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", nargs="+", default=["workspace", "snapshots"])
    args = parser.parse_args()
    for n in args.persons:
        if "workspace" in args.parts:
            workspace(n, args.rounds)
        if "snapshots" in args.parts:
            snapshots(n, args.rounds)


if __name__ == "__main__":
    main()
