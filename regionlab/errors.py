"""User-facing errors: the CLI prints them as one clear message, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: bad input, missing key, missing sources.

    The message names what is wrong and how to fix it; the CLI prints it and
    exits with status 1 instead of showing a traceback.
    """
