"""What a product's run has to do, decided before anything is read or written.

The engine (:mod:`regionlab.wap.engine`) runs on these decisions; ``regionlab run``
asks :func:`nothing_to_do` before it starts Dagster, so both decide the same way. Kept
apart from the engine so that asking costs no import of the engine's heavy layers
(erasure, the privacy gates and their polars, pyarrow): a no-op run answers in well
under a second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import duckdb

from regionlab.errors import UserError
from regionlab.platform.names import DELIVERY_COLUMN
from regionlab.results import CheckResult, explain_blocked
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.spec.vocab import LoadMode
from regionlab.sql import quote_ident
from regionlab.wap import load_log
from regionlab.wap.delivery_checks import Outcome, Verdict
from regionlab.wap.sources import Extract, reader_for


@dataclass
class ProductRun:
    product: str
    status: str = "up_to_date"  # published | up_to_date | audit_failed | delivery_rejected
    rows_read: int = 0
    rows_staged: int = 0  # records that passed every row check (published unless blocked)
    rows_published: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    snapshot_id: int | None = None
    key_id: str | None = None
    extracts: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    run_id: str = ""
    base_snapshot: int | None = None
    #: The delivery-level check of every delivery this run looked at.
    deliveries: list[Verdict] = field(default_factory=list)
    #: Deliveries whose content changed after they were loaded (same name, new digest).
    changed: list[str] = field(default_factory=list)
    replace: bool = False
    #: The delivery ``regionlab run --reload`` replaced the rows of, and how many it replaced.
    reloaded: str | None = None
    rows_replaced: int = 0

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocks]

    def failure_reason(self) -> str:
        """Why the audit blocked this run, in words (rule, failing rows of total, where next)."""
        return explain_blocked(self.product, self.checks)

    @property
    def rejected(self) -> list[Verdict]:
        return [v for v in self.deliveries if v.outcome is Outcome.rejected]

    def explain(self) -> str:
        """One line: what happened to the product and what to do (value-free)."""
        rejected = " ".join(v.message for v in self.rejected)
        empty = [v.delivery for v in self.deliveries if v.outcome is Outcome.empty]
        if self.status == "published":
            line = self._published_line()
        elif self.status == "delivery_rejected":
            line = "nothing loaded; the previous snapshot stays current"
        elif self.status == "audit_failed":
            line = self.failure_reason()
        else:
            line = "nothing new"
        if empty:
            line += f"; empty deliveries (nothing new): {', '.join(empty)}"
        if rejected:
            line += f". Rejected: {rejected}"
        if self.changed and self.replace:
            line += (
                f". Re-delivered with changed content: {', '.join(self.changed)} "
                "(the newest delivery replaces the snapshot)"
            )
        elif self.changed:
            commands = "; ".join(f"`{reload_command(name)}`" for name in self.changed)
            line += (
                f". Changed after they were loaded (not reloaded): {', '.join(self.changed)}; "
                f"if the correction is right, {commands} replaces the rows that came from it "
                "in one snapshot"
            )
        return line

    def _published_line(self) -> str:
        if self.reloaded:
            line = (
                f"reloaded {self.reloaded}: its {self.rows_replaced} published rows replaced "
                f"by {self.rows_published} in one snapshot"
            )
        else:
            source = ", ".join(self.extracts) or "its upstream products"
            line = f"published {self.rows_published} rows from {source}"
        if self.quarantined:
            line += (
                f"; {self.quarantined.total()} records quarantined "
                f"({', '.join(f'{r}: {n}' for r, n in sorted(self.quarantined.items()))})"
                f" — `regionlab quarantine show {self.product}` lists them"
            )
        return line

    def summary(self) -> str:
        return (
            f"{self.product}: {self.status}, {self.rows_published} published, "
            f"{self.quarantined.total()} quarantined"
        )


def reload_command(delivery: str) -> str:
    """The command a steward runs to replace a changed delivery's published rows."""
    return f"regionlab run --reload {delivery}"


def _select_extracts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    product: Product,
    full_refresh: bool,
    run: ProductRun,
    reload: str | None = None,
) -> tuple[list[Extract], bool]:
    """Extracts this run must load, and whether they replace the table.

    A delivery whose content changed after it was loaded is noted in
    ``run.changed`` in every load mode: a replace product loads its newest
    delivery again; an append product does not (its rows are published) and the
    steward decides (``regionlab run --reload <file>`` replaces its rows).
    ``reload`` names the one delivery a reload run loads again.
    """
    assert product.source is not None
    reader = reader_for(product)
    found = reader.discover(settings.sources_dir, product)
    if not found:
        where = reader.expected_location(settings.sources_dir, product)
        raise UserError(
            f"no extracts for {product.ref} in {where}; run `regionlab synth` or deliver them"
        )
    if full_refresh:
        return ([found[-1]] if product.source.load is LoadMode.replace else found), True
    done = load_log.loaded(con, product.ref)
    run.changed = [
        e.name
        for e in found
        if e.name in done and e.name != reload and reader.fingerprint(e) != done[e.name]
    ]
    if reload is not None:
        return _reload_target(con, product, found, done, reload)
    if product.source.load is LoadMode.replace:
        newest = found[-1]
        if done.get(newest.name) == reader.fingerprint(newest):
            return [], True
        return [newest], True
    return [e for e in found if e.name not in done], False


def _reload_target(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    found: list[Extract],
    done: dict[str, str],
    name: str,
) -> tuple[list[Extract], bool]:
    """The delivery a reload loads again, and whether it replaces the table.

    A replace product publishes only its newest delivery, so only that one has rows
    to replace; an append product's delivery must have been loaded, and its rows
    must be told apart by the delivery column.
    """
    assert product.source is not None
    match = [e for e in found if e.name == name]
    if not match:
        raise UserError(f"{product.ref} has no delivery {name}")
    if product.source.load is LoadMode.replace:
        if match[0] != found[-1]:
            raise UserError(
                f"{name} is not the newest delivery of {product.ref} ({found[-1].name}); "
                "the product loads only its newest delivery, so no published row came from it"
            )
        return match, True
    if name not in done:
        raise UserError(
            f"{name} has not been loaded into {product.ref} yet, so there is nothing to "
            f"reload; `regionlab run --product {product.ref}` loads it"
        )
    if not _rows_attributable(con, product):
        raise UserError(
            f"{product.ref} holds rows published before the platform recorded which delivery "
            f"each row came from, so the rows of {name} cannot be told apart; rebuild it once "
            f"with `regionlab run --product {product.ref} --full-refresh` (it loads every "
            "delivery as it is now), after which `--reload` works"
        )
    return match, False


def _has_delivery_column(con: duckdb.DuckDBPyConnection, product: Product) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = 'lake' "
        "AND schema_name = ? AND table_name = ? AND column_name = ?",
        [product.domain, product.id, DELIVERY_COLUMN],
    ).fetchone()
    return bool(row and row[0])


def _rows_attributable(con: duckdb.DuckDBPyConnection, product: Product) -> bool:
    """True when every published row of the product names its delivery."""
    if not _has_delivery_column(con, product):
        return False
    unknown = con.execute(
        f"SELECT count(*) FROM lake.{product.table} WHERE {quote_ident(DELIVERY_COLUMN)} IS NULL"
    ).fetchone()[0]
    return not unknown


def _unrecorded_changes(
    con: duckdb.DuckDBPyConnection, product: Product, run: ProductRun
) -> list[str]:
    """Changed deliveries of an append product the delivery log does not record yet
    (recorded once, reported on every run); a replace product loads its newest again."""
    if run.replace or not run.changed:
        return []
    known = load_log.last_outcomes(con, product.ref)
    return [name for name in run.changed if known.get(name, ("",))[0] != "changed"]


def nothing_to_do(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    product: Product,
    key_id: str | None,
) -> ProductRun | None:
    """The run :func:`run_source_product` would return without writing anything, or None.

    The same decision as the run's (:func:`_select_extracts`, :func:`_checked`), taken
    on a connection the caller shares among products: no delivery to look at and no
    change to record means the run ends ``up_to_date`` having written nothing. A
    ``--full-refresh`` or ``--reload`` always runs, so the caller does not ask.
    ``regionlab run`` asks this before starting Dagster.
    """
    assert product.source is not None
    run = ProductRun(product=product.ref, key_id=key_id)
    found, run.replace = _select_extracts(con, settings, product, False, run)
    if found or _unrecorded_changes(con, product, run):
        return None
    return run
