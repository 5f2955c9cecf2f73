"""A text rule: an identifier shape plus what replaces it, rendered for three regex engines.

The scrubber runs rules in polars (Rust ``regex``) for bulk work and in DuckDB
(RE2) inside queries; Python's ``regex`` module, with real look-around, is the
reference the tests compare both with. The core is written once in the
syntax all three share (see :mod:`regionlab.privacy.identifiers`).

Neither Rust ``regex`` nor RE2 has look-around, so "not inside a longer
number/word" is a guard group on each side that the replacement puts back. A
guard consumes the character after a match — which the next identifier may
need as its left guard when one character separates them
(``0101901234,0202902345``) — so every engine replaces twice: each identifier
the first pass skipped sits directly after one it replaced, and the second
pass finds it. The Python reference runs the very same two passes (with the
``regex`` module), so all three engines give the same text, and it also
reports where in the original text each replacement was (for measuring
recall and precision).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cached_property

import regex

from regionlab.privacy.identifiers import Shape

#: Replacement parts: literal text, or the number of a group of the core.
Part = str | int


@dataclass(frozen=True)
class Rule(Shape):
    """A shape replaced by ``replacement``; ``core_groups`` counts the core's capture groups."""

    replacement: tuple[Part, ...] = ()
    core_groups: int = 0
    #: False for rules that only tidy up after another (their matches are never raw values).
    gate: bool = True

    @classmethod
    def of(cls, shape: Shape) -> Rule:
        values = {f.name: getattr(shape, f.name) for f in fields(Shape)}
        return cls(**values, replacement=(shape.token,))

    def replace_pattern(self, end: str = "$") -> str:
        """Guards are groups 1 and ``core_groups + 2``; the core's groups sit in between.

        An empty ``near``/``near_after`` means anything may touch that side.
        """
        before = f"(^|[^{self.near}])" if self.near else "()"
        after = f"([^{self.near_after}]|{end})" if self.near_after else "()"
        return f"{before}(?:{self.core}){after}"

    def _render(self, group: str, escape: Callable[[str], str]) -> str:
        parts = [group.format(1)]
        for part in self.replacement:
            parts.append(group.format(part + 1) if isinstance(part, int) else escape(part))
        parts.append(group.format(self.core_groups + 2))
        return "".join(parts)

    def rust_replacement(self) -> str:
        """For polars ``str.replace_all`` (``$`` in literals doubled)."""
        return self._render("${{{}}}", lambda s: s.replace("$", "$$"))

    def re2_replacement(self) -> str:
        """For DuckDB ``regexp_replace`` (RE2 refers to groups 1-9 only)."""
        if self.core_groups + 2 > 9:
            raise ValueError(f"rule {self.kind} has too many groups for RE2")
        return self._render("\\{}", lambda s: s.replace("\\", "\\\\"))

    @cached_property
    def python_pattern(self) -> regex.Pattern[str]:
        """``replace_pattern`` for Python (``$`` there also matches before a final newline)."""
        return regex.compile(self.replace_pattern(end=r"\Z"))
