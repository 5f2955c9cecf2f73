"""The platform's configuration: one typed object, resolved from the environment once.

Three things used to be read from three places: the folders (``Settings``
from ``REGIONLAB_VAR``/``REGIONLAB_DOMAINS``), the lake (``LakeConfig`` from
``REGIONLAB_LAKE_*``) and the profile (``regionlab.toml``, whose ``apply``
then wrote the lake's variables back into ``os.environ`` for the lake to read
again). Now :func:`resolve` reads the environment and ``regionlab.toml`` and
returns one :class:`Config`; the lake is derived from the profile, whose
``lake_catalog``/``lake_data`` keys ``REGIONLAB_LAKE_CATALOG``/``_DATA``
override as before. Nothing in the core writes ``os.environ``: exporting the
profile to child processes (Dagster, Celery workers) is
:mod:`pipelines.launch`'s job.

The CLI resolves the configuration once per command and activates it
(:func:`activate`); every layer asks :func:`current`. A library caller that
activates nothing (a notebook, a test) gets a configuration resolved from the
environment at the time of the call, so ``REGIONLAB_VAR`` set by a test is seen.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path

from regionlab.lake_config import LakeConfig
from regionlab.profiles import Profile, load_profile
from regionlab.settings import DOMAINS_ENV, PROJECT_ROOT, VAR_ENV, Settings


class Config:
    """Folders, profile and lake of one platform, from one snapshot of the environment."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self.settings = Settings(
            domains_dir=Path(self._env.get(DOMAINS_ENV, str(PROJECT_ROOT / "domains"))),
            var_dir=Path(self._env.get(VAR_ENV, str(PROJECT_ROOT / "var"))),
        )

    @cached_property
    def profile(self) -> Profile:
        """The active profile (``REGIONLAB_PROFILE``) with its ``REGIONLAB_<KEY>`` overrides."""
        return load_profile(env=self._env)

    @cached_property
    def lake(self) -> LakeConfig:
        """The lake the profile names; empty keys mean the embedded lake under ``var/lake``."""
        return LakeConfig.from_spec(
            self.profile.lake_catalog, self.profile.lake_data, self.settings.lake_dir
        )

    def check(self) -> Config:
        """Resolve everything now, so a bad profile fails before any work starts."""
        _ = self.lake
        return self


_active: ContextVar[Config | None] = ContextVar("regionlab_config", default=None)


def resolve(env: Mapping[str, str] | None = None) -> Config:
    """The configuration the environment (default ``os.environ``) describes."""
    return Config(os.environ if env is None else env)


def current() -> Config:
    """The activated configuration, else one resolved from the environment now."""
    return _active.get() or resolve()


@contextlib.contextmanager
def activate(config: Config) -> Iterator[Config]:
    """Make ``config`` the one every layer reads inside this block."""
    token = _active.set(config)
    try:
        yield config
    finally:
        _active.reset(token)
