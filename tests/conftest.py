"""Shared fixtures: every test gets its own ``var/`` so nothing touches the developer's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionlab.privacy.keys import init_key
from regionlab.settings import Settings, get_settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``var/`` folder that ``regionlab.settings`` points at.

    A CLI command in the test may have started the embedded access service on demand for
    this var/; it is stopped afterwards, so no test leaves a server running.
    """
    var = tmp_path / "var"
    var.mkdir()
    monkeypatch.setenv("REGIONLAB_VAR", str(var))
    # Streams of this test on queues of its own: the broker is shared with other runs.
    monkeypatch.setenv("REGIONLAB_STREAM_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:10]}.")
    # No detached follow-up drain (`run --defer`) outliving the test and its deleted var/.
    monkeypatch.setenv("REGIONLAB_FOLLOWUPS_BACKGROUND", "0")
    yield var
    if (var / "service" / "runtime.json").exists():
        from regionlab.research.client import stop_embedded

        monkeypatch.setenv("REGIONLAB_VAR", str(var))
        stop_embedded()


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
