"""A small synthetic region generated once per session and copied into each test's var/."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from regionlab.settings import Settings
from regionlab.synth.generate import generate

AS_OF = dt.date(2026, 11, 1)
PERSONS = 3000


@pytest.fixture(scope="session")
def region_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("region") / "sources"
    generate(out=out, persons=PERSONS, seed=7, defect_rate=0.02, as_of=AS_OF, deliveries=3)
    return out


@pytest.fixture
def platform(keyed_var: Settings, region_sources: Path) -> Settings:
    """A var/ with the region's sources and a pseudonymisation key; the lake starts empty."""
    shutil.copytree(region_sources, keyed_var.sources_dir)
    return keyed_var
