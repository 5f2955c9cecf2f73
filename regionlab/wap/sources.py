"""Dated extract files of a source product.

Layout: `<sources>/<system>/<extract>/<extract>_<YYYY-MM-DD>.<ext>`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from regionlab.spec import Product

_DATED = re.compile(r"^(?P<name>[a-z0-9_]+)_(?P<date>\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True, order=True)
class Extract:
    """One delivery file; its name (relative to the sources root) identifies it in the load log."""

    date: dt.date
    path: Path
    name: str

    def fingerprint(self) -> str:
        """SHA-256 of the file, so a changed re-delivery under the same name is noticed."""
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def extract_folder(sources: Path, product: Product) -> Path:
    assert product.source is not None
    return sources / product.source.system / product.source.extract


def find_extracts(sources: Path, product: Product) -> list[Extract]:
    """All dated extracts of a source product, oldest first."""
    assert product.source is not None
    folder = extract_folder(sources, product)
    suffix = f".{product.source.format.value}"
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
