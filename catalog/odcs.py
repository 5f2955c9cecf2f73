"""Open Data Contract Standard (ODCS v3.1.0) contracts: one YAML file per data product.

A contract is what a consumer may rely on: the schema with classifications
and code systems, the quality rules, the team, the SLA (freshness, retention)
and the servers where the table lives. Everything comes from the spec, the
region-wide ``domains/catalog.yaml`` and the lake's current state.

The content follows ODCS v3.1.0 (``team`` as an object, ``logicalType:
timestamp``, ``id`` on schema objects, library ``metric`` rules) and says so;
the tests validate it against exactly that JSON Schema and lint and run it
with datacontract-cli.

Quality rules are exported as checks a consumer's tool can run: each rule type
projects itself (``odcs_check`` in :mod:`regionlab.spec.rules`) onto an ODCS
``library`` metric or a ``sql`` query; only a rule with no such form (the
gap between deliveries) stays ``custom``, run by the platform alone.

Servers carry no path of the exporting machine, and ``physicalName`` is the
bare table name with the domain as the server's ``schema``:

- ``<lake_server>-duckdb`` (first, so it is the default): a DuckDB database
  file holding the lake's tables as ``<domain>.<product>``, the form
  datacontract-cli's ``duckdb`` server type opens (it opens ``database`` as a
  file path, so a ``ducklake:`` URI does not reach DuckLake). Its location is
  the file name, relative to where the consumer runs the tool, or set by
  ``DATACONTRACT_DUCKDB_DATABASE``; :func:`catalog.contract_db.write_contract_db`
  writes it from the lake.
- ``<lake_server>`` (type ``custom``): the DuckLake itself, for tools and people
  that attach it: catalogue and data locations relative to the lake folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from catalog.facts import CatalogFacts
from catalog.links import CatalogueLinks
from regionlab.config import current
from regionlab.lake.config import LakeConfig
from regionlab.settings import get_settings
from regionlab.spec import Product, Registry
from regionlab.spec.region import RegionCatalogue
from regionlab.spec.rules import QualityRule
from regionlab.spec.vocab import Classification, ColumnType, OwnerRole

API_VERSION = "v3.1.0"
#: The DuckDB file the ``-duckdb`` server names (see :mod:`catalog.contract_db`).
CONTRACT_DB = "regionlab-lake.duckdb"
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)

_LOGICAL = {
    ColumnType.varchar: "string",
    ColumnType.integer: "integer",
    ColumnType.bigint: "integer",
    ColumnType.double: "number",
    ColumnType.boolean: "boolean",
    ColumnType.date: "date",
    ColumnType.timestamp: "timestamp",
}
#: The spec's classification onto ODCS's free-text classification (its common values).
_CLASSIFICATION = {
    Classification.direct_identifier: "restricted",
    Classification.quasi_identifier: "confidential",
    Classification.pseudonym: "confidential",
    Classification.sensitive: "restricted",
    Classification.none: "internal",
}
_ROLES = {
    OwnerRole.data_steward: "data steward",
    OwnerRole.technical_owner: "technical owner",
    OwnerRole.business_owner: "business owner",
}


def odcs_dir() -> Path:
    return get_settings().catalog_dir / "odcs"


def _stable_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _custom(**values: Any) -> list[dict[str, Any]]:
    return [{"property": k, "value": v} for k, v in values.items() if v not in (None, "", [])]


def _rule(rule: QualityRule, product: Product) -> dict[str, Any]:
    """One spec rule as an ODCS quality rule: runnable where ODCS has a form for it."""
    out: dict[str, Any] = {
        "id": _stable_id(rule.id),
        "name": rule.id,
        "description": " ".join((rule.description or rule.default_description()).split()),
        "dimension": rule.dimension,
        "severity": "error" if rule.severity.value == "blocking" else "warning",
        "tags": [f"kahn:{rule.kahn.value}", f"severity:{rule.severity.value}"],
    }
    check = rule.odcs_check(product)
    if check is None:
        out |= {
            "type": "custom",
            "engine": "regionlab",
            "implementation": rule.model_dump(mode="json", exclude_none=True),
        }
    else:
        out |= check
    return out


def _portable(path: str, base: Path) -> str | None:
    """``path`` as a consumer can use it: a URL as is, a local path relative to ``base``.

    A local path outside ``base`` is the exporting machine's business: left out.
    """
    if "://" in path:
        return path
    try:
        relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(base))
    except ValueError:
        return None
    text = relative.as_posix()
    return text + "/" if path.endswith("/") and text != "." else text


def _servers(region: RegionCatalogue, lake: LakeConfig, product: Product) -> list[dict[str, Any]]:
    """The DuckDB file datacontract-cli opens, then the DuckLake itself; no absolute path."""
    duckdb_file = {
        "server": f"{region.lake_server}-duckdb",
        "type": "duckdb",
        "description": "Søens tabeller som en DuckDB-fil (skema = domæne, tabel = produkt), "
        "skrevet fra søen af regionlab; stien er relativ til arbejdsmappen eller sættes "
        "med DATACONTRACT_DUCKDB_DATABASE.",
        "environment": "prod",
        "database": CONTRACT_DB,
        "schema": product.domain,
    }
    if lake.catalog_type == "sqlite":
        # The embedded lake: its folder is the unit a consumer copies or mounts.
        base = Path(lake.catalog).parent
        catalog: str | None = _portable(lake.catalog, base)
        data_path = _portable(lake.data_dir, base)
    else:
        # A shared catalogue server: its address is public, local disks are not.
        catalog = _PASSWORD.sub(r"\1***", lake.catalog)
        data_path = lake.data_dir if not lake.is_local_data else None
    ducklake = {
        "server": region.lake_server,
        "type": "custom",
        "description": "Regionens DuckLake-datasø (Parquet-filer og et katalog); tabellen "
        "læses som <alias>.<domæne>.<produkt> efter ATTACH 'ducklake:<catalogType>:<catalog>' "
        "(DATA_PATH <dataPath>). Stier er relative til søens mappe.",
        "environment": "prod",
        "schema": product.domain,
        "customProperties": _custom(
            format="ducklake",
            catalogType=lake.catalog_type,
            catalog=catalog,
            dataPath=data_path,
            alias=lake.alias,
        ),
    }
    return [duckdb_file, ducklake]


def contract(
    product: Product,
    registry: Registry,
    facts: CatalogFacts,
    region: RegionCatalogue,
    lake: LakeConfig,
) -> dict[str, Any]:
    """The ODCS v3 contract of one product, as a plain mapping ready for YAML."""
    state = facts.product(product.ref)
    column_rules: dict[str, list[dict[str, Any]]] = {}
    table_rules: list[dict[str, Any]] = []
    for rule in product.quality:
        used = rule.columns_used()
        if len(used) == 1 and product.published(used[0]):
            column_rules.setdefault(used[0], []).append(_rule(rule, product))
        else:
            table_rules.append(_rule(rule, product))
    properties = []
    for col in product.published_columns:
        prop: dict[str, Any] = {
            "id": _stable_id(col.name),
            "name": col.name,
            "physicalName": col.name,
            "physicalType": col.type.duckdb,
            "logicalType": _LOGICAL[col.type],
            "description": " ".join(col.description.split()),
            "required": not col.nullable,
            "classification": _CLASSIFICATION.get(col.classification, "confidential"),
            "tags": [f"classification:{col.classification.value}"]
            + [f"glossary:{t}" for t in col.glossary_terms],
            "customProperties": _custom(
                regionlabClassification=col.classification.value,
                pseudonymisation=col.rule.value,
                sourceColumn=col.source_column,
                codeSystem=col.code_system.value if col.code_system else None,
            ),
        }
        if col.name in product.row_key:
            prop["primaryKey"] = True
            prop["primaryKeyPosition"] = product.row_key.index(col.name) + 1
        if col.name in column_rules:
            prop["quality"] = column_rules[col.name]
        if product.is_derived:
            prop["transformSourceObjects"] = [u.replace("/", ".") for u in product.upstream]
        properties.append(prop)
    schema: dict[str, Any] = {
        "id": _stable_id(product.id),
        "name": product.id,
        # Bare: the server's `schema` is the domain (a dotted name is looked up literally).
        "physicalName": product.id,
        "physicalType": "table",
        "businessName": product.title,
        "description": " ".join(product.description.split()),
        "properties": properties,
        "tags": sorted(product.keywords),
    }
    if table_rules:
        schema["quality"] = table_rules

    legal = product.legal_basis
    legal_text = "; ".join(
        x for x in [legal.gdpr_article_6, legal.gdpr_article_9, *legal.national] if x
    )
    sla: list[dict[str, Any]] = [
        {
            "property": "retention",
            "value": product.retention.years,
            "unit": "y",
            "element": f"{product.id}.{product.retention.from_column}",
            "description": " ".join(product.retention.justification.split()),
        }
    ]
    freshness = next((r for r in product.quality if r.type == "freshness"), None)
    if freshness is not None:
        sla.append(
            {
                "property": "latency",
                "value": freshness.max_age_days,  # type: ignore[union-attr]
                "unit": "d",
                "description": "Højeste alder af det nyeste udtræk før en advarsel.",
            }
        )
    sla.append(
        {
            "property": "frequency",
            "value": region.frequency.lower(),
            "description": "Leverancefrekvens for udtræk.",
        }
    )

    members = [
        {
            "id": _stable_id(o.email.split("@")[0]),
            "username": str(o.email),
            "name": o.name,
            "role": _ROLES[o.role],
        }
        for o in product.owners
    ]
    stewards = [o for o in product.owners if o.role is OwnerRole.data_steward] or product.owners
    return {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": _stable_id(f"{product.domain}-{product.id}"),
        "name": product.title,
        "version": f"1.{state.snapshot_id or 0}.0",
        "status": product.status.value,
        "domain": product.domain,
        "dataProduct": product.ref,
        "tenant": region.publisher.name,
        "tags": sorted(product.keywords),
        "description": {
            "purpose": " ".join(product.purpose.split()),
            "usage": " ".join(region.access.how_to_apply.split()),
            "limitations": f"Adgangsniveau {product.access_level.value}. Hjemmel: {legal_text}. "
            + _k_anonymity_text(product),
        },
        "schema": [schema],
        "servers": _servers(region, lake, product),
        "team": {"name": f"{product.domain}-team", "members": members},
        "support": [
            {
                "channel": "steward",
                "url": f"mailto:{stewards[0].email}",
                "tool": "email",
                "scope": "interactive",
            },
            {
                "channel": "access",
                "url": CatalogueLinks.from_region(region).access_application(product.ref)
                or str(region.access.application_url),
                "tool": "other",
                "scope": "issues",
                "description": "Ansøg om adgang til ikke-offentlige data.",
            },
        ],
        "slaProperties": sla,
        "customProperties": _custom(
            accessLevel=product.access_level.value,
            legalBasis=legal_text,
            healthCategories=[c.value for c in product.health_categories],
            keyId=state.key_id,
            lastSnapshot=state.snapshot_id,
            rowCount=state.row_count,
            upstream=product.upstream,
        ),
    }


def export_odcs(out_dir: Path | None = None) -> list[Path]:
    """Write ``<var>/catalog/odcs/<domain>/<product>.odcs.yaml`` for every product."""
    from catalog.lake_facts import facts_from_lake
    from regionlab.spec import load_domains
    from regionlab.spec.region import load_region

    registry = load_domains()
    region = load_region()
    facts = facts_from_lake(registry)
    lake = current().lake
    out_dir = out_dir or odcs_dir()
    written = []
    for product in sorted(registry.products.values(), key=lambda p: p.ref):
        path = out_dir / product.domain / f"{product.id}.odcs.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = contract(product, registry, facts, region, lake)
        path.write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
        )
        written.append(path)
    return written


def _k_anonymity_text(product: Product) -> str:
    """What the product promises about k-anonymity, in the steward's language."""
    qis = ", ".join(product.quasi_identifiers) or "ingen kvasi-identifikatorer"
    if product.k_anonymous:
        return f"Mindste k-anonymitet {product.privacy.min_k} over {qis}."
    why = " ".join((product.privacy.justification or "").split())
    return f"Ikke k-anonymt over {qis} (rækkeniveau, kun under tilladelse). {why}".strip()
