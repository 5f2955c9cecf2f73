"""Fixtures of the catalogue tests; the data itself lives in ``catalog_testdata``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from catalog_testdata import fixed_facts, fixture_registry

from catalog.facts import CatalogFacts
from regionlab.spec import Registry


@pytest.fixture(scope="session")
def registry() -> Registry:
    return fixture_registry()


@pytest.fixture(scope="session")
def facts() -> CatalogFacts:
    return fixed_facts()


# --- A small demo platform, shared by the site and export tests --------------------------------


REPO = Path(__file__).resolve().parents[2]
SITE_SRC = REPO / "catalog" / "site"
DEMO_PERSONS = 1500


def _ensure_minisearch() -> None:
    """The site vendors MiniSearch from npm; install it from the lock file if it is missing."""
    if (SITE_SRC / "node_modules" / "minisearch").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed for the catalogue site: run `npm ci --prefix catalog/site`")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(SITE_SRC)], check=True, timeout=300
    )


@pytest.fixture(scope="session")
def demo_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`regionlab demo --persons 1500` in a fresh var/: lake, quality history and metadata.json."""
    var = tmp_path_factory.mktemp("demo") / "var"
    env = {**os.environ, "REGIONLAB_VAR": str(var), "DAGSTER_HOME": str(var / "dagster")}
    env.pop("REGIONLAB_LAKE_CATALOG", None)
    env.pop("REGIONLAB_LAKE_DATA", None)
    env.pop("DATAHUB_GMS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "regionlab", "demo", "--persons", str(DEMO_PERSONS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    (var.parent / "demo.out").write_text(proc.stdout, encoding="utf-8")
    metadata = var / "catalog" / "metadata.json"
    if not metadata.exists():
        pytest.fail(f"demo did not write {metadata}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return var


@pytest.fixture
def demo_env(demo_var: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point regionlab at the shared demo platform for one test."""
    monkeypatch.setenv("REGIONLAB_VAR", str(demo_var))
    monkeypatch.delenv("REGIONLAB_LAKE_CATALOG", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_DATA", raising=False)
    return demo_var


@pytest.fixture(scope="session")
def site_tools() -> None:
    """MiniSearch and Node.js, which every site build needs."""
    _ensure_minisearch()


@pytest.fixture(scope="session")
def demo_site(demo_var: Path) -> Iterator[Path]:
    """The catalogue site built from the demo platform's metadata.json."""
    _ensure_minisearch()
    from catalog.site.build import build_site

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(demo_var))
        out = build_site()
    yield out
