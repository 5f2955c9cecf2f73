"""Let typer render help without importing Rich's Markdown and traceback renderers.

``typer.rich_utils`` (imported whenever typer prints help or a usage error) starts
with ``from rich.markdown import Markdown`` and ``from rich.traceback import
Traceback``. Together they pull in ``markdown_it``, ``pygments`` and ``attrs`` —
about 0.2–0.3 s, most of what ``regionlab --help`` costs beyond Python and Rich's
console — although regionlab never uses either: its help uses Rich markup, not
Markdown (``rich_markup_mode="rich"``), and pretty exceptions are off.

:func:`import_rich_utils` imports ``typer.rich_utils`` while those two modules are
placeholders, then removes the placeholders again, so the deferral is confined to
the two names ``typer.rich_utils`` binds: anything else that imports
``rich.markdown`` or ``rich.traceback`` later gets the real module. The names
``typer.rich_utils`` keeps are stand-in classes that import the real module the
first time they are called or an attribute is read from them (a Markdown help
text or a pretty traceback still works, only slower). A name the placeholder does
not know (a newer typer importing more from these modules) loads the real module
at once, so a typer upgrade can make this slower, never wrong.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Module → the names ``typer.rich_utils`` imports from it.
DEFERRED: dict[str, tuple[str, ...]] = {
    "rich.markdown": ("Markdown",),
    "rich.traceback": ("Traceback",),
}


class _Placeholder(types.ModuleType):
    """Stands in for a module while ``typer.rich_utils`` is imported. Special names
    are not forwarded: the import system probes ``__path__`` on every ``from … import``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


def _real(module: str) -> types.ModuleType:
    """The real module, importing it (and dropping a placeholder) if needed."""
    if isinstance(sys.modules.get(module), _Placeholder):
        del sys.modules[module]
    return importlib.import_module(module)


class _DeferredType(type):
    """Metaclass of the stand-ins: class attributes (``Traceback.from_exception``)
    come from the real class. Special names are not forwarded: ``typing`` probes
    them (``__parameters__``…) when typer's annotations ``Iterable[Markdown | Text]``
    are evaluated, which must not import anything."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(cls._resolve(), name)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls._resolve())


def _stand_in(module: str, name: str) -> type:
    """A class that behaves as ``module.name`` and imports ``module`` on first use."""

    def _resolve(_cls: type) -> type:
        return getattr(_real(module), name)

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
        return cls._resolve()(*args, **kwargs)  # type: ignore[attr-defined]

    return _DeferredType(
        name,
        (),
        {
            "_resolve": classmethod(_resolve),
            "__new__": __new__,
            "__module__": module,
            "__doc__": f"Stand-in for {module}.{name}, imported on first use.",
        },
    )


def import_rich_utils() -> None:
    """Import ``typer.rich_utils`` with :data:`DEFERRED` as placeholders (no-op if done)."""
    if "typer.rich_utils" in sys.modules:
        return
    placed: dict[str, _Placeholder] = {}
    for module, names in DEFERRED.items():
        if module in sys.modules:  # already paid for: nothing to save
            continue
        placeholder = _Placeholder(module)
        for name in names:
            setattr(placeholder, name, _stand_in(module, name))
        sys.modules[module] = placed[module] = placeholder
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, placeholder in placed.items():
            if sys.modules.get(module) is placeholder:
                del sys.modules[module]
