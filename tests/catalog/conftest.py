"""Fixtures of the catalogue tests; the data itself lives in ``catalog_testdata``."""

from __future__ import annotations

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
