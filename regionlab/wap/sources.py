"""The source seam: how the engine finds, fingerprints, counts and reads a product's deliveries.

The engine knows nothing about files or formats. It asks the product's
:class:`SourceReader` four things:

- ``discover(sources, product)``: the deliveries there are, oldest first;
- ``fingerprint(delivery)``: a digest, so a changed re-delivery is noticed;
- ``count(delivery)``: the records in a delivery, counted without parsing
  (the reconciliation baseline: rows read = published + quarantined);
- ``read(con, product, deliveries)``: ``raw`` with the spec's types, and
  every record it cannot type in ``quarantine`` with a reason.

Readers are registered by ``source.format`` (:func:`register_reader`). The
file formats (:mod:`regionlab.wap.formats`) share :class:`DatedFiles`, the
layout ``<sources>/<system>/<extract>/<extract>_<YYYY-MM-DD>.<format>``; a
database table or an event stream implements the same four methods and
registers under its own format name, without touching the engine.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb

from regionlab.errors import UserError
from regionlab.spec import Product
from regionlab.wap.safe_errors import DeliveryError, ReconciliationError, describe

_DATED = re.compile(r"^(?P<name>[a-z0-9_]+)_(?P<date>\d{4}-\d{2}-\d{2})$")

#: Columns of the ``quarantine`` table a reader fills (the engine adds its own rows too).
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    extract VARCHAR, line BIGINT, record_id VARCHAR, reason VARCHAR, detail VARCHAR, raw VARCHAR
)"""


@dataclass(frozen=True, order=True)
class Extract:
    """One delivery; its name (relative to the sources root) identifies it in the load log.

    ``path`` is where a file-based reader reads it; another reader may use
    ``name`` alone (e.g. a table and a watermark).
    """

    date: dt.date
    path: Path
    name: str

    def fingerprint(self) -> str:
        """SHA-256 of the file, so a changed re-delivery under the same name is noticed.

        Remembered per file while its size, times and inode stay the same
        (:mod:`regionlab.wap.fingerprints`), so a run does not re-read every delivery.
        """
        from regionlab.settings import get_settings
        from regionlab.wap.fingerprints import fingerprint

        return fingerprint(self.path, get_settings().fingerprint_cache)


class SourceReader(Protocol):
    """What the engine needs from a kind of source."""

    def discover(self, sources: Path, product: Product) -> list[Extract]: ...

    def fingerprint(self, delivery: Extract) -> str: ...

    def count(self, delivery: Extract) -> int: ...

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None: ...

    def expected_location(self, sources: Path, product: Product) -> str:
        """Where deliveries are looked for, for the message when there are none."""
        ...


class DatedFiles:
    """Discovery and fingerprints for dated extract files; subclasses add count and read."""

    #: The file suffix, without the dot (the format's name).
    suffix: str = ""

    def folder(self, sources: Path, product: Product) -> Path:
        assert product.source is not None
        return sources / product.source.system / product.source.extract

    def discover(self, sources: Path, product: Product) -> list[Extract]:
        """All dated extracts of the product, oldest first."""
        assert product.source is not None
        folder = self.folder(sources, product)
        suffix = f".{self.suffix}"
        found = []
        for path in folder.glob(f"*{suffix}") if folder.is_dir() else []:
            match = _DATED.match(path.name.removesuffix(suffix))
            if match and match["name"] == product.source.extract:
                found.append(
                    Extract(
                        date=dt.date.fromisoformat(match["date"]),
                        path=path,
                        name=str(path.relative_to(sources)),
                    )
                )
        return sorted(found)

    def fingerprint(self, delivery: Extract) -> str:
        return delivery.fingerprint()

    def expected_location(self, sources: Path, product: Product) -> str:
        assert product.source is not None
        return (
            f"{self.folder(sources, product)} (deliver files named "
            f"{product.source.extract}_YYYY-MM-DD.{self.suffix})"
        )


_READERS: dict[str, SourceReader] = {}


def register_reader(fmt: str, reader: SourceReader) -> SourceReader:
    """Make ``reader`` the reader of products whose ``source.format`` is ``fmt``."""
    _READERS[str(fmt)] = reader
    return reader


def unregister_reader(fmt: str) -> None:
    _READERS.pop(str(fmt), None)


def reader_for(product: Product) -> SourceReader:
    """The reader of a source product's format."""
    assert product.source is not None
    import regionlab.wap.formats  # noqa: F401  (registers the file formats)

    fmt = str(product.source.format)
    reader = _READERS.get(fmt)
    if reader is None:
        raise UserError(
            f"{product.ref}: no reader for source.format={fmt}; known formats: "
            f"{', '.join(sorted(_READERS))}"
        )
    return reader


def find_extracts(sources: Path, product: Product) -> list[Extract]:
    """All deliveries of a source product, oldest first (through its reader)."""
    return reader_for(product).discover(sources, product)


def deliveries_named(
    products: Iterable[Product], sources: Path, given: str
) -> list[tuple[Product, Extract]]:
    """The source products that have a delivery ``given`` names, with that delivery.

    ``given`` is a path (absolute, or relative to the working folder), the delivery's
    name under the sources folder (as in the load log and the run's messages) or its
    bare file name.
    """
    path = Path(given).expanduser()
    resolved = path.resolve() if path.exists() else None
    found = []
    for product in products:
        if product.source is None:
            continue
        for delivery in find_extracts(sources, product):
            if given in (delivery.name, delivery.path.name) or (
                resolved is not None and delivery.path.resolve() == resolved
            ):
                found.append((product, delivery))
    return found


def ingest(con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]) -> int:
    """Read ``deliveries`` into ``raw`` (bad records to ``quarantine``); return records read.

    Nothing is dropped silently: every record the reader sees lands in ``raw``
    or in ``quarantine``, and the two must add up to the records counted
    independently in the deliveries.
    """
    assert product.source is not None
    reader = reader_for(product)
    con.execute(QUARANTINE_DDL)
    failure: str | None = None
    try:
        reader.read(con, product, list(deliveries))
    except duckdb.Error as exc:
        # The reader's error text can quote a source line: only its kind and line survive.
        failure = describe(
            exc, product.ref, [d.name for d in deliveries], [c.name for c in product.columns]
        )
    if failure is not None:
        raise DeliveryError(
            f"cannot read: {failure}; check that the files match "
            f"source.format={product.source.format}"
        ) from None
    rows_read = sum(reader.count(d) for d in deliveries)
    staged = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    if staged + quarantined != rows_read:
        raise ReconciliationError(
            f"reconciliation failed for {product.ref}: read {rows_read} records, staged "
            f"{staged}, quarantined {quarantined}"
        )
    return rows_read
