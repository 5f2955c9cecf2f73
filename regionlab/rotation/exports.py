"""Re-key the person keys in labelling training exports (``<var>/labeling/exports``).

An export line carries the labelled row's ``row_key``; for a task over a
product keyed by person (``population/persons``) that is a person key, so it
is mapped like the labelled product's own ``row_key`` was in the lake. Lines
of other tasks carry row ids and stay as they are. Running it twice changes
nothing more: a new key is never an old key of the mapping.
"""

from __future__ import annotations

import json
import os

import duckdb

from regionlab.erasure.labels import source_of
from regionlab.platform.names import parse_labelled_name
from regionlab.rotation.lake_rekey import pseudonym_columns
from regionlab.rotation.mapping import MAP
from regionlab.settings import get_settings
from regionlab.spec import Registry


def _lookup(con: duckdb.DuckDBPyConnection, values: set[str]) -> tuple[dict[str, str], set[str]]:
    """The mapping of those ``values`` that are old keys, and those that are new keys already."""
    if not values:
        return {}, set()
    listed = [sorted(values)]
    rows = con.execute(
        f"SELECT old, new FROM temp.main.{MAP} WHERE old IN (SELECT unnest(?::VARCHAR[]))",
        listed,
    ).fetchall()
    done = con.execute(
        f"SELECT new FROM temp.main.{MAP} WHERE new IN (SELECT unnest(?::VARCHAR[]))", listed
    ).fetchall()
    return dict(rows), {r[0] for r in done}


def rekey_exports(
    con: duckdb.DuckDBPyConnection, registry: Registry, *, drop_unmapped: bool
) -> dict[str, int]:
    """Re-key every export whose rows are keyed by person; returns lines re-keyed per file."""
    folder = get_settings().label_exports_dir
    done: dict[str, int] = {}
    if not folder.is_dir():
        return done
    for path in sorted(folder.glob("*.jsonl")):
        if parse_labelled_name(path.stem) is None:
            continue
        found = source_of(path.stem, registry)
        if found is None:
            continue
        product, keys = found
        person = set(pseudonym_columns(registry, product.ref, {k: "" for k in keys}))
        positions = [i for i, k in enumerate(keys) if k in person]
        if not positions:
            continue
        records = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        wanted = {
            str(r.get("row_key")).split("|")[i]
            for r in records
            if r.get("row_key") is not None and len(str(r["row_key"]).split("|")) == len(keys)
            for i in positions
        }
        mapping, rekeyed = _lookup(con, wanted)
        kept, changed = [], 0
        for record in records:
            parts = str(record.get("row_key")).split("|")
            if record.get("row_key") is None or len(parts) != len(keys):
                kept.append(record)
                continue
            if any(parts[i] not in mapping for i in positions):
                # Already re-keyed by an interrupted run, or a person the mapping lacks.
                if drop_unmapped and any(parts[i] not in rekeyed for i in positions):
                    continue
                kept.append(record)
                continue
            for i in positions:
                parts[i] = mapping[parts[i]]
            record["row_key"] = "|".join(parts)
            kept.append(record)
            changed += 1
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        os.replace(tmp, path)
        done[path.name] = changed
    return done
