"""JSON Schemas of the spec format, written into ``domains/`` for stewards' editors.

YAML files point at them with a `# yaml-language-server: $schema=...` comment, so
VS Code (and any editor with the YAML language server) validates while typing.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from regionlab.spec.models import Domain, Glossary, Product
from regionlab.spec.region import RegionCatalogue

SCHEMAS: dict[str, type[BaseModel]] = {
    "product.schema.json": Product,
    "domain.schema.json": Domain,
    "glossary.schema.json": Glossary,
    "catalog.schema.json": RegionCatalogue,
}


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def stale(root: Path) -> list[Path]:
    """Schema files under ``root`` that differ from what the models generate."""
    return [
        root / name
        for name, model in SCHEMAS.items()
        if not (root / name).exists() or (root / name).read_text(encoding="utf-8") != render(model)
    ]


def write(root: Path) -> list[Path]:
    written = []
    for name, model in SCHEMAS.items():
        path = root / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written
