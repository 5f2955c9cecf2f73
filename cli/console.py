"""One console for the CLI: wide enough for its tables when output is piped (CI, logs)."""

from __future__ import annotations

import sys

from rich.console import Console

#: Rich falls back to 80 columns without a terminal, which folds every table.
PIPED_WIDTH = 140


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPED_WIDTH)
