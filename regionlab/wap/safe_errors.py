"""The one boundary where engine errors lose every value from the source files.

DuckDB quotes the offending line in its errors ("Original Line: {...cpr...}"),
a ``UnicodeDecodeError`` carries the bytes it could not decode, a cast error
names the value that did not cast. Dagster stores an exception's message *and
its whole cause chain* in the run's event log, and the CLI prints it. So the
engine's entry points (:func:`regionlab.wap.engine.run_source_product` and
``run_derived_product``) are wrapped in :func:`value_free_errors`: an error
leaves the engine either as a :class:`ValueFree` error whose message the
platform built from names, line numbers and counts, or as a new
:class:`EngineError` naming the product, the deliveries, the line and the spec
column the engine reported, and the kind of failure, never the text of the
original error. Both are raised with no cause and no context, so there is no
chain for Dagster or a traceback to keep.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, TypeVar

from regionlab.errors import UserError

P = ParamSpec("P")
R = TypeVar("R")

_LINE = re.compile(r"\b[Ll]ine:? (\d+)\b")
_COLUMN = re.compile(r'\b[Cc]olumn:? "?([A-Za-z_][A-Za-z0-9_]*)"?')


class ValueFree(Exception):
    """Marker: this error's message is built from names, line numbers and counts only."""


class DeliveryError(ValueFree, UserError):
    """A delivery the platform cannot load as it is; the message names file, line, reason, fix."""


class ReconciliationError(ValueFree, RuntimeError):
    """Records read do not add up to records staged plus quarantined (counts only)."""


class EngineError(ValueFree, UserError):
    """Any other failure inside the engine, retold without the original error's text."""


def _reason(exc: BaseException) -> str:
    """The kind of failure, from the exception's class: 'DuckDB InvalidInputException'."""
    module = type(exc).__module__.split(".")[0]
    prefix = "DuckDB " if module in ("duckdb", "_duckdb") else ""
    return f"{prefix}{type(exc).__name__}"


def describe(
    exc: BaseException, product_ref: str, deliveries: Sequence[str], columns: Sequence[str]
) -> str:
    """A value-free description of ``exc``: product, deliveries, line, spec column, kind.

    The line number and the column name are taken from the error text only when
    they are a number and the name of one of the product's declared columns.
    """
    text = str(exc)
    parts = [f"{product_ref}: {_reason(exc)}"]
    if deliveries:
        parts.append(f"while loading {', '.join(deliveries)}")
    if line := _LINE.search(text):
        parts.append(f"at line {line.group(1)}")
    declared = set(columns)
    named = [c for c in _COLUMN.findall(text) if c in declared]
    if named:
        parts.append(f"column {named[0]}")
    return (
        " ".join(parts) + " (the error text is withheld because it can quote source values; "
        "open the delivery in the source zone to see the line)"
    )


#: The deliveries the running engine call is loading, for the message of an error.
inflight: ContextVar[tuple[str, ...]] = ContextVar("regionlab_inflight_deliveries", default=())


def _retold(exc: UserError) -> UserError:
    """The same platform error (its type and attributes, e.g. KeyMismatch) without its chain.

    Built without calling ``__init__``, whose signature differs per error type.
    """
    new = type(exc).__new__(type(exc))
    new.args = exc.args
    new.__dict__.update(exc.__dict__)
    return new


def value_free_errors(func: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    """Wrap an engine entry point (first argument: the product) so that nothing but a
    value-free error leaves it."""

    @functools.wraps(func)
    def inner(product: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        failure: BaseException | None = None
        token = inflight.set(())
        try:
            return func(product, *args, **kwargs)
        except ValueFree as exc:
            failure = type(exc)(*exc.args)
        except UserError as exc:
            # The platform's own messages (missing key, missing sources) name paths and
            # fixes; they are kept (with their type, e.g. KeyMismatch), but lose any chain.
            failure = _retold(exc)
        except Exception as exc:  # noqa: BLE001 — the boundary: every kind is retold
            columns = [c.name for c in getattr(product, "columns", [])]
            failure = EngineError(describe(exc, product.ref, inflight.get(), columns))
        finally:
            inflight.reset(token)
        # Raised outside the handler: no __cause__, no __context__, nothing to store.
        raise failure from None

    return inner
