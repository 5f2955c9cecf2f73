"""Fixtures for the streaming tests: a keyed var/ with a small synthetic region, a private
queue on the real RabbitMQ (deleted afterwards), and the lake read back for comparison."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionlab.settings import Settings
from regionlab.spec import Product, load_domains
from regionlab.streaming import broker
from regionlab.synth.generate import generate

REF = "laboratory/epj_observations"


@pytest.fixture
def product() -> Product:
    return load_domains().product(REF)


@pytest.fixture
def region(keyed_var: Settings) -> Settings:
    """A keyed var/ whose sources hold a 60-person synthetic region (the feed's persons)."""
    generate(keyed_var.sources_dir, persons=60, seed=7)
    return keyed_var


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"test.stream.{uuid.uuid4().hex[:10]}"
    yield name
    broker.delete_queue(name)


def ledger_path(settings: Settings) -> Path:
    return settings.var_dir / "ledger.jsonl"
