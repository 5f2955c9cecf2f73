"""Names several packages must agree on: labelled products and the privacy gates' checks.

A labelled product is written by ``labeling pull``, described by the
catalogue and erased by :mod:`regionlab.erasure`; a privacy gate is run by
the engine, declared to Dagster by the pipelines and shown by the catalogue.
Each name is made here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The lake schema (domain) of labelled products.
LABELS_SCHEMA = "labels"
_SEP = "__"


def labelled_name(domain: str, product_id: str, task_id: str) -> str:
    """The labelled product's table in the ``labels`` schema: ``<domain>__<product>__<task>``."""
    return _SEP.join((domain, product_id, task_id))


def labelled_ref(name: str) -> str:
    """``labels/<name>``: the labelled product's ref (as the lake's tables are named)."""
    return f"{LABELS_SCHEMA}/{name}"


def parse_labelled_name(name: str) -> tuple[str, str, str] | None:
    """``(domain, product, task)`` of a labelled table's name, or None for another name."""
    parts = name.split(_SEP)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def is_labelled_ref(ref: str) -> bool:
    return ref.startswith(f"{LABELS_SCHEMA}/")


@dataclass(frozen=True)
class PrivacyCheck:
    """A privacy gate of the audit step: its check name and what it promises."""

    name: str
    #: One line for the check's declaration (Dagster's asset check spec).
    summary: str


IDENTIFIER_SCAN = PrivacyCheck(
    "privacy_identifier_scan",
    "No CPR numbers, phone numbers, e-mail addresses, addresses or register names in text columns.",
)
DIRECT_IDENTIFIERS = PrivacyCheck(
    "privacy_direct_identifiers",
    "Direct identifiers are dropped or replaced by the person key.",
)
K_ANONYMITY = PrivacyCheck(
    "privacy_k_anonymity",
    "Quasi-identifier classes are at least the minimum k.",
)
SMALL_CELLS = PrivacyCheck(
    "privacy_small_cells",
    "No count below the declared minimum cell size is published unflagged.",
)

#: The volume guard of replace-mode products (a delivery check, declared like the gates).
DELIVERY_VOLUME = PrivacyCheck(
    "delivery_volume",
    "A replacing snapshot shrinks or grows against the current one only within the spec's "
    "volume_guard.",
)

#: Category of the privacy gates' results (beside the Kahn categories of quality rules).
PRIVACY_CATEGORY = "privacy"

#: The platform's column in every source product's lake table: the delivery (its name under
#: the sources folder, as in the load log) each row came from, so ``regionlab run --reload``
#: can replace exactly those rows. Platform metadata, not a data column: the spec does not
#: declare it, so the catalogue, ODCS, permits and workspaces never offer it.
DELIVERY_COLUMN = "_regionlab_delivery"
