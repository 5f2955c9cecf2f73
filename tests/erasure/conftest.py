"""A small synthetic region built through the real pipelines, for the erasure tests."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from regionlab.settings import Settings
from regionlab.synth.generate import generate

AS_OF = dt.date(2026, 11, 1)
#: The smallest region whose persons product passes the k-anonymity gate.
PERSONS = 3000


@pytest.fixture(scope="session")
def erasure_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("erasure_region") / "sources"
    generate(out=out, persons=PERSONS, seed=11, defect_rate=0.02, as_of=AS_OF, deliveries=2)
    return out


@pytest.fixture
def platform(keyed_var: Settings, erasure_sources: Path) -> Settings:
    shutil.copytree(erasure_sources, keyed_var.sources_dir)
    return keyed_var
