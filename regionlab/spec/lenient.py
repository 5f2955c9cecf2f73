"""A second, lenient reading of a spec file whose schema validation failed.

A steward fixing a folder wants every problem in one pass. When a product file
fails its schema only on keys that can be set aside, the loader still runs the
semantic checks on what is left, so fixing three schema errors does not reveal
three semantic ones. Set aside means: a misspelled key read as the field it
most likely means, an unknown key dropped, an invalid optional field left at
its default — unless the field shapes what other checks read (:data:`SHAPING`:
the published columns, the privacy model, the lineage), where a default would
make follow-on problems about a value the steward never wrote. Problems about
a field left at its default are not reported either. A file with any other
schema error (a missing required field, a bad required value) is not checked
further, as before.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from regionlab.spec.problems import field_path, misspelled, models_at

M = TypeVar("M", bound=BaseModel)

#: Optional fields whose default would change what the semantic checks see elsewhere in the
#: file (which columns are published, and under which name; privacy; lineage).
SHAPING = frozenset(
    {
        "pseudonymisation",
        "classification",
        "output",
        "privacy",
        "k_anonymity",
        "quasi_identifiers",
        "access_level",
        "derived",
        "upstream",
        "source",
        "person_column",
        "row_key",
        "status",
    }
)

#: Rounds of setting aside; a renamed key can reveal one more error inside its value.
ROUNDS = 3


def validate_leniently(data: Any, model: type[M]) -> tuple[M | None, set[str]]:
    """The model read from ``data`` with repairable schema errors set aside, and the field
    paths (as :func:`field_path` renders them) that were left at their defaults.

    ``None`` when an error cannot be set aside.
    """
    work = copy.deepcopy(data)
    defaulted: set[str] = set()
    for _ in range(ROUNDS):
        try:
            return model.model_validate(work), defaulted
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        # Unknown keys first: renaming one fills the "field required" it caused.
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        # Paths are rendered before anything moves, as the problems were.
        rendered = [field_path(e["loc"], work) for e in errors]
        for error, where in zip(errors, rendered, strict=True):
            if not _set_aside(work, error, model, defaulted, where):
                return None, defaulted
    return None, defaulted


def _set_aside(
    data: Any, error: dict[str, Any], model: type[BaseModel], defaulted: set[str], where: str
) -> bool:
    loc = tuple(error["loc"])
    if not loc or not isinstance(loc[-1], str):
        return False
    parent = _node(data, loc[:-1])
    key = loc[-1]
    if not isinstance(parent, dict):
        return False
    if error["type"] == "extra_forbidden":
        value = parent.pop(key, None)
        meant = misspelled(error, model)
        if meant is not None and meant not in parent:
            parent[meant] = value
        return True
    if error["type"] == "missing":
        return key in parent  # filled by the rename of a misspelled key
    optional = any(
        key in m.model_fields and not m.model_fields[key].is_required()
        for m in models_at(model, loc[:-1])
    )
    if not optional or key in SHAPING or key not in parent:
        return False
    parent.pop(key)
    defaulted.add(where)
    return True


def _node(data: Any, loc: tuple[int | str, ...]) -> Any:
    """The dict or list at ``loc`` in the raw data, skipping discriminator tags."""
    node = data
    for item in loc:
        in_list = isinstance(node, list) and isinstance(item, int) and item < len(node)
        if in_list or (isinstance(node, dict) and item in node):
            node = node[item]
        elif isinstance(node, dict) and node.get("type") == item:
            continue  # the tag pydantic inserts for a discriminated union
        else:
            return None
    return node
