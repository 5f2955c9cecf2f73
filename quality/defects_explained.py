"""How many of the rows each quality rule flags are defects the synthesiser injected.

The demo used to *assert* that failing warning rules were "the ~1 % injected
defects". This module checks it row by row: for each rule of each product's
latest run that flagged rows, it finds the flagged rows in the published table
(the rule's own quarantine predicate, or the foreign key / date-of-death join of
its cross check), and looks their row keys up in the synthesiser's
``defects.csv``. A foreign-key failure also counts as injected when the value it
points to is a labelled record of the referenced product (a contact quarantined
upstream leaves its diagnoses dangling). Only counts leave this module.

A malformed line is labelled ``line:N``; its record id is read from that line of
the extract (the first CSV field, or the first JSON value, which the synthesiser
keeps intact when it breaks a line).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

from quality.history import latest_results
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import person_key
from regionlab.spec import Product, Registry
from regionlab.spec.rules import ForeignKey, NotAfterDeath
from regionlab.sql import quote_ident

_FIRST_JSON_VALUE = re.compile(r'^\{\s*"[^"]+"\s*:\s*"([^"]*)"')


@dataclass(frozen=True)
class RuleDefects:
    """One rule's flagged rows split into injected defects and the rest (counts only)."""

    product: str
    rule: str
    severity: str
    flagged: int  # rows the rule flagged in the latest run
    compared: int  # of those, found again in the published table
    injected: int  # of the compared, rows that are (or point to) labelled defects

    @property
    def not_injected(self) -> int:
        return self.compared - self.injected


def _record_id(sources: Path, file: str, record: str) -> str | None:
    """The record id of a label; for ``line:N`` the id read from that line of the file."""
    if not record.startswith("line:"):
        return record
    try:
        number = int(record.removeprefix("line:"))
        with (sources / file).open(encoding="utf-8", newline="") as handle:
            line = next((text for i, text in enumerate(handle, start=1) if i == number), None)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if line is None:
        return None
    if file.endswith(".jsonl"):
        found = _FIRST_JSON_VALUE.match(line)
        return found.group(1) if found else None
    fields = next(csv.reader([line]), [])
    return fields[0] if fields else None


def labelled_records(sources: Path) -> dict[str, set[str]]:
    """Labelled record ids per extract folder (``<system>/<extract>``) from ``defects.csv``."""
    out: dict[str, set[str]] = defaultdict(set)
    with (sources / "defects.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            folder = "/".join(row["file"].split("/")[:2])
            record = _record_id(sources, row["file"], row["record_id"])
            if record:
                out[folder].add(record)
    return dict(out)


def _labels_of(product: Product, labels: dict[str, set[str]], key: PseudonymKey | None) -> set[str]:
    """The product's labelled ids as they appear in its row key (CPR → person key)."""
    if product.source is None:
        return set()
    ids = labels.get(f"{product.source.system}/{product.source.extract}", set())
    if product.row_key == ["person_key"]:
        if key is None:
            return set()
        keys = set()
        for cpr in ids:
            try:
                keys.add(person_key(cpr, key))
            except ValueError:  # an invalid CPR has no person key (it was quarantined)
                continue
        return keys
    return set(ids)


def _flagged_sql(rule: object, product: Product, registry: Registry, day: dt.date) -> str | None:
    """SELECT row key, referenced value of the rows the rule flags in the published table."""
    table = f"lake.{quote_ident(product.domain)}.{quote_ident(product.id)}"
    row_key = quote_ident(product.row_key[0])
    if isinstance(rule, ForeignKey) and rule.references in registry.products:
        target = registry.product(rule.references)
        col, ref_col = quote_ident(rule.column), quote_ident(rule.reference_column)
        return (
            f"SELECT s.{row_key}::VARCHAR, s.{col}::VARCHAR FROM {table} s "
            f"WHERE s.{col} IS NOT NULL AND s.{col} NOT IN (SELECT {ref_col} FROM "
            f"lake.{quote_ident(target.domain)}.{quote_ident(target.id)} "
            f"WHERE {ref_col} IS NOT NULL)"
        )
    if isinstance(rule, NotAfterDeath) and rule.population in registry.products:
        target = registry.product(rule.population)
        col, person = quote_ident(rule.column), quote_ident(rule.person_column)
        death = quote_ident(rule.death_column)
        return (
            f"SELECT s.{row_key}::VARCHAR, NULL FROM {table} s JOIN (SELECT person_key AS k, "
            f"max(date_trunc('month', {death})) AS death FROM "
            f"lake.{quote_ident(target.domain)}.{quote_ident(target.id)} GROUP BY 1) d "
            f"ON s.{person} = d.k WHERE date_trunc('month', s.{col}) > d.death"
        )
    predicate = rule.row_predicate(product, day)  # type: ignore[attr-defined]
    if predicate is None:
        return None
    return f"SELECT {row_key}::VARCHAR, NULL FROM {table} WHERE ({predicate}) IS TRUE"


def explain_defects(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    sources: Path,
    key: PseudonymKey | None,
    day: dt.date,
) -> list[RuleDefects]:
    """Every rule of each product's latest run that flagged rows, matched with the labels.

    ``con`` has the lake attached as ``lake``; ``day`` is the reference date of the
    rules that need one (the synthetic region's as-of date).
    """
    labels = labelled_records(sources)
    latest = latest_results(con)
    out: list[RuleDefects] = []
    for row in latest.iter_rows(named=True):
        if not row["unexpected_count"] or row["product"] not in registry.products:
            continue
        product = registry.product(row["product"])
        rule = next((r for r in product.quality if r.id == row["check"]), None)
        if rule is None or len(product.row_key) != 1:
            continue
        sql = _flagged_sql(rule, product, registry, day)
        if sql is None:
            continue
        flagged = con.execute(sql).fetchall()
        own = _labels_of(product, labels, key)
        referenced: set[str] = set()
        if isinstance(rule, ForeignKey) and rule.references in registry.products:
            referenced = _labels_of(registry.product(rule.references), labels, key)
        injected = sum(
            1 for k, ref in flagged if k in own or (ref is not None and ref in referenced)
        )
        out.append(
            RuleDefects(
                product=product.ref,
                rule=rule.id,
                severity=rule.severity.value,
                flagged=int(row["unexpected_count"]),
                compared=len(flagged),
                injected=injected,
            )
        )
    return out


def manifest_as_of(sources: Path) -> dt.date | None:
    """The as-of date of the synthetic region under ``sources`` (None if not synthetic)."""
    try:
        return dt.date.fromisoformat(
            json.loads((sources / "manifest.json").read_text(encoding="utf-8"))["as_of"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
