"""One console for the CLI: wide enough when piped, and the one place messages are escaped.

Rich reads ``[...]`` in a printed string as a style tag and drops it, so a message
that quotes a pattern (``^[a-z][a-z0-9-]{1,62}$``), a path or a SQL fragment would
lose parts of itself. :class:`CliConsole` therefore prints every plain string
literally; only a :class:`Styled` string, built by :func:`styled` from the CLI's
own template with the values escaped, is read as markup.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

#: Rich falls back to 80 columns without a terminal, which folds every table.
PIPED_WIDTH = 140


class Styled(str):
    """A string whose ``[style]`` tags are the CLI's own: the only text printed as markup."""


def styled(template: str, *values: object) -> Styled:
    """``template`` (the CLI's markup, ``{}`` holes) with each value escaped into its hole."""
    return Styled(template.format(*(escape(str(v)) for v in values)))


class CliConsole(Console):
    """A console whose ``print`` shows plain strings as written (markup only via ``styled``)."""

    def print(self, *objects: Any, markup: bool | None = None, **kwargs: Any) -> None:
        if markup is not False:
            objects = tuple(
                escape(o) if isinstance(o, str) and not isinstance(o, Styled) else o
                for o in objects
            )
        super().print(*objects, markup=markup, **kwargs)


def make_console(stderr: bool = False, **kwargs: Any) -> CliConsole:
    """The CLI's console on stdout (or stderr); plain strings print literally."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPED_WIDTH
    return CliConsole(stderr=stderr, width=width, **kwargs)


def print_error(message: object) -> None:
    """One user-facing error line on stderr: ``error: <message>``, the message verbatim."""
    make_console(stderr=True).print(styled("[bold red]error:[/] {}", message), highlight=False)
