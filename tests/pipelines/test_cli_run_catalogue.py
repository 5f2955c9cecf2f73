"""After `regionlab run` every projection of the catalogue is fresh, not only metadata.json."""

from __future__ import annotations

import os
import subprocess
import sys

from regionlab.settings import Settings

CLI = [sys.executable, "-m", "regionlab"]


def test_run_refreshes_the_site_and_the_exports(platform: Settings) -> None:
    """Issue 14: after `regionlab run` the site and the DCAT/ODCS exports were stale."""
    result = subprocess.run(
        [*CLI, "run", "--product", "population/persons"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    catalog = platform.var_dir / "catalog"
    metadata = catalog / "metadata.json"
    assert metadata.is_file()
    built = [
        catalog / "site" / "index.html",
        catalog / "site" / "data.js",
        catalog / "healthdcat-ap.ttl",
        catalog / "odcs" / "population" / "persons.odcs.yaml",
    ]
    for path in built:
        assert path.is_file(), path
        assert path.stat().st_mtime >= metadata.stat().st_mtime, path
    # the site shows what it describes: the run's product as published
    assert "population/persons" in (catalog / "site" / "data.js").read_text(encoding="utf-8")
    assert "not rebuilt" not in result.stdout

    # A rejected delivery publishes nothing, but the catalogue says so after that run too.
    delivered = platform.sources_dir / "cpr" / "persons" / "persons_2026-11-01.csv"
    lines = delivered.read_text(encoding="utf-8").splitlines()[:3]
    bad = delivered.with_name("persons_2026-11-02.csv")
    bad.write_text("\n".join(line.replace(",", ";") for line in lines) + "\n", encoding="utf-8")
    rejected = subprocess.run(
        [*CLI, "run", "--product", "population/persons"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    emitted = metadata.read_text(encoding="utf-8")
    assert "last_delivery_rejected" in emitted and "persons_2026-11-02.csv" in emitted
    site = (catalog / "site" / "data.js").read_text(encoding="utf-8")
    assert "persons_2026-11-02.csv" in site  # the product page's "seneste levering afvist"
