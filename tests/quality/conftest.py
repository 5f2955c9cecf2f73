"""Synthetic regions (with and without defects) and staging files built from them.

``build_staging`` runs the pipeline's own ingest and pseudonymisation steps but
skips the quarantine of exact duplicates and of rule failures, so every defect
the generator plants reaches ``staged`` and the quality rules must find it.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from regionlab.privacy.keys import PseudonymKey, init_key, load_key
from regionlab.settings import Settings, get_settings
from regionlab.spec import Product
from regionlab.synth.generate import generate
from regionlab.wap.pseudonymise import build_staged, quarantine_invalid_cpr
from regionlab.wap.register_names import register_names
from regionlab.wap.sources import find_extracts, ingest

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="session")
def defect_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qregion") / "sources"
    generate(out=out, persons=1200, seed=11, defect_rate=0.04, as_of=AS_OF, deliveries=3)
    return out


@pytest.fixture(scope="session")
def clean_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qclean") / "sources"
    generate(out=out, persons=600, seed=5, defect_rate=0.0, as_of=AS_OF, deliveries=3)
    return out


def _platform(var_dir: Path, sources: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    shutil.copytree(sources, var_dir / "sources")
    key_file = var_dir / "secrets" / "pseudonym.key"
    init_key(key_file)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(key_file))
    monkeypatch.delenv("REGIONLAB_KEY", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_CATALOG", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_DATA", raising=False)
    return get_settings()


@pytest.fixture
def defect_platform(
    var_dir: Path, defect_sources: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return _platform(var_dir, defect_sources, monkeypatch)


@pytest.fixture
def clean_platform(var_dir: Path, clean_sources: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return _platform(var_dir, clean_sources, monkeypatch)


def build_staging(
    settings: Settings, product: Product, key: PseudonymKey | None = None
) -> tuple[Path, dt.date]:
    """A staging file with ``staged`` built WITHOUT duplicate or rule quarantine."""
    key = key or load_key()
    path = settings.var_dir / f"staging_{product.domain}_{product.id}.duckdb"
    path.unlink(missing_ok=True)
    files = find_extracts(settings.sources_dir, product)
    reference_date = max(f.date for f in files)
    con = duckdb.connect(str(path))
    try:
        ingest(con, product, files)
        if product.source and product.source.person_column:
            quarantine_invalid_cpr(con, product)  # not a quality rule: no key without a CPR
        build_staged(con, product, key, register_names(settings.sources_dir), reference_date)
    finally:
        con.close()
    return path, reference_date


def planted(sources: Path, product: Product) -> Counter[str]:
    """Defects the generator planted in the product's extracts, by type."""
    assert product.source is not None
    prefix = f"{product.source.system}/{product.source.extract}/"
    with (sources / "defects.csv").open(encoding="utf-8") as handle:
        return Counter(r["defect"] for r in csv.DictReader(handle) if r["file"].startswith(prefix))
