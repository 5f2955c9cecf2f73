"""A small synthetic region built through the real pipelines, for the erasure tests."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from regionlab.privacy.keys import init_key
from regionlab.settings import Settings, get_settings
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
def keyed_var(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh var/ with a pseudonymisation key and an embedded lake (not yet created)."""
    key_file = var_dir / "secrets" / "pseudonym.key"
    init_key(key_file)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(key_file))
    monkeypatch.delenv("REGIONLAB_KEY", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_CATALOG", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_DATA", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(var_dir / "dagster"))
    return get_settings()


@pytest.fixture
def platform(keyed_var: Settings, erasure_sources: Path) -> Settings:
    shutil.copytree(erasure_sources, keyed_var.sources_dir)
    return keyed_var
