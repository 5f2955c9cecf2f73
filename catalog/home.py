"""Keep DataHub's per-user files out of the user's home folder.

The acryl-datahub SDK derives ``~/.datahubenv`` and ``~/.datahub/`` from
``$HOME`` once, when ``datahub.cli.config_utils`` is imported, and writes a
telemetry file there as a side effect of importing the telemetry module (which
the file sink, DataHub Lite and the REST emitter all pull in). There is no
environment variable that moves these paths, so :func:`isolate` imports those
modules while ``HOME`` points at ``<var>/datahub/home`` and restores ``HOME``
right after: the module constants stay pointed under ``var/`` for the rest of
the process, nothing else in the process sees a changed ``HOME``. Telemetry is
switched off unless the user asked for it explicitly.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from regionlab.settings import get_settings

#: The SDK modules that read ``$HOME`` at import time.
_HOME_MODULES = (
    "datahub.cli.config_utils",
    "datahub.telemetry.telemetry",
    "datahub.utilities.server_state_disk_cache",
)


def datahub_dir() -> Path:
    """Everything DataHub-related that regionlab keeps: ``<var>/datahub``."""
    return get_settings().datahub_dir


def datahub_home() -> Path:
    """The folder DataHub's CLI and SDK treat as the user's home."""
    return datahub_dir() / "home"


def isolate() -> Path:
    """Import the SDK's home-reading modules with ``HOME`` under ``var/``; return that home.

    Idempotent. If another part of the process imported the SDK first, the
    config path is re-pointed afterwards (the telemetry file may then already
    exist in the real home; nothing more can be done about that in-process).
    """
    os.environ.setdefault("DATAHUB_TELEMETRY_ENABLED", "false")
    home = datahub_home()
    already = "datahub.cli.config_utils" in sys.modules
    if not already:
        home.mkdir(parents=True, exist_ok=True)
        previous = os.environ.get("HOME")
        os.environ["HOME"] = str(home)
        try:
            for name in _HOME_MODULES:
                importlib.import_module(name)
        finally:
            if previous is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = previous
    config_utils = sys.modules["datahub.cli.config_utils"]
    if not str(config_utils.DATAHUB_CONFIG_PATH).startswith(str(home)) and already:
        config_utils.DATAHUB_CONFIG_PATH = str(home / ".datahubenv")
        config_utils.DATAHUB_ROOT_FOLDER = str(home / ".datahub")
    return Path(os.path.dirname(config_utils.DATAHUB_CONFIG_PATH))
