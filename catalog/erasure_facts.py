"""Erasure and retention facts per product, for the catalogue (counts only).

Read from the erasure register (``<var>/erasure/register.jsonl``), which
holds counts and never CPR numbers or person keys. Per product:

* ``retention_last_run`` — when retention was last applied to the lake (any
  run covers every product), and ``retention_rows_removed_last_run`` for
  this product;
* ``erasure_requests_applied`` — erasure requests carried out on the lake
  (the suppression list covers every product, so this is platform-wide),
  ``erasure_requests_touching`` — how many of them removed rows of this
  product, and ``erasure_last_applied``.

Row counts of single erasures are not exposed: the catalogue has a wider
audience than the receipts. :func:`custom_properties` gives the string map a
DataHub ``DatasetProperties.customProperties`` takes.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from regionlab.erasure.register import read_entries


class ErasureFacts(BaseModel):
    retention_last_run: dt.datetime | None = None
    retention_as_of: dt.date | None = None
    retention_rows_removed_last_run: int = 0
    erasure_requests_applied: int = 0
    erasure_requests_touching: int = 0
    erasure_last_applied: dt.datetime | None = None


def erasure_facts(products: list[str]) -> dict[str, ErasureFacts]:
    """Facts for each product ref (``domain/product``), from the register."""
    entries = read_entries()
    retention = [e for e in entries if e.get("kind") == "retention"]
    erasures = [e for e in entries if e.get("kind") == "erasure"]
    last_retention = retention[-1] if retention else None
    last_erasure = erasures[-1] if erasures else None
    out: dict[str, ErasureFacts] = {}
    for ref in products:
        facts = ErasureFacts(
            erasure_requests_applied=len(erasures),
            erasure_requests_touching=sum(
                1 for e in erasures if e.get("rows_by_product", {}).get(ref)
            ),
            erasure_last_applied=(
                dt.datetime.fromisoformat(last_erasure["at"]) if last_erasure else None
            ),
        )
        if last_retention is not None:
            facts.retention_last_run = dt.datetime.fromisoformat(last_retention["at"])
            if last_retention.get("as_of"):
                facts.retention_as_of = dt.date.fromisoformat(last_retention["as_of"])
            facts.retention_rows_removed_last_run = int(
                last_retention.get("rows_by_product", {}).get(ref, 0)
            )
        out[ref] = facts
    return out


def custom_properties(facts: ErasureFacts) -> dict[str, str]:
    """``regionlab.*`` string properties for DataHub (absent facts are left out)."""
    props = {
        "regionlab.erasure_requests_applied": str(facts.erasure_requests_applied),
        "regionlab.erasure_requests_touching": str(facts.erasure_requests_touching),
    }
    if facts.erasure_last_applied:
        props["regionlab.erasure_last_applied"] = facts.erasure_last_applied.isoformat()
    if facts.retention_last_run:
        props["regionlab.retention_last_run"] = facts.retention_last_run.isoformat()
        props["regionlab.retention_rows_removed_last_run"] = str(
            facts.retention_rows_removed_last_run
        )
    if facts.retention_as_of:
        props["regionlab.retention_as_of"] = facts.retention_as_of.isoformat()
    return props
