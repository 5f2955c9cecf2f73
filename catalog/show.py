"""Read a product back from DataHub Lite: what the catalogue actually holds, not the spec.

:func:`product_card` gathers owners, domain, data product membership,
upstreams (with column lineage), the schema with classification tags, the
quality status from the latest assertion run events and the initiatives
that use the product; :func:`show` renders it with rich. The tests use
:func:`product_card` to prove a round trip through a real Lite database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from datahub.lite.lite_local import DataHubLiteLocal, SearchFlavor
from rich.console import Group
from rich.table import Table
from rich.text import Text

from catalog import urns
from catalog.lite import open_lite
from regionlab.errors import UserError


@dataclass
class FieldView:
    name: str
    type: str
    description: str
    tags: list[str]
    terms: list[str]


@dataclass
class CheckView:
    check: str
    description: str
    category: str
    severity: str
    result: str | None = None  # SUCCESS | FAILURE | ERROR | None (never run)
    unexpected: int | None = None
    rows: int | None = None
    run_id: str | None = None
    at: dt.datetime | None = None


@dataclass
class ProductCard:
    ref: str
    urn: str
    name: str
    description: str
    properties: dict[str, str]
    domains: list[str]
    domain_names: list[str]
    owners: list[tuple[str, str]]  # (owner urn, ownership type)
    data_products: list[str]
    upstreams: list[str]
    column_lineage: dict[str, list[str]]  # downstream column -> upstream field urns
    fields: list[FieldView]
    checks: list[CheckView] = field(default_factory=list)
    initiatives: list[tuple[str, str]] = field(default_factory=list)  # (urn, name)
    owner_names: dict[str, str] = field(default_factory=dict)  # owner urn -> display name


def _get(lite: DataHubLiteLocal, urn: str) -> dict[str, Any]:
    return dict(lite.get(urn, None) or {})


def _search(lite: DataHubLiteLocal, aspect: str, contains: str) -> list[str]:
    """URNs whose current ``aspect`` mentions ``contains`` (an URN we built: no quotes)."""
    if "'" in contains:
        raise ValueError("unexpected quote in an URN")
    query = f"aspect_name = '{aspect}' AND CAST(metadata AS VARCHAR) LIKE '%{contains}%'"
    return sorted({hit.id for hit in lite.search(query, SearchFlavor.EXACT, snippet=False)})


def product_card(lite: DataHubLiteLocal, ref: str) -> ProductCard:
    urn = urns.product_dataset(ref)
    aspects = _get(lite, urn)
    if not aspects:
        raise UserError(
            f"DataHub Lite has no dataset for product {ref!r}; check the product id "
            "(`<domain>/<product>`) or run `regionlab catalog emit`"
        )
    if (aspects.get("status") or {}).get("removed"):
        raise UserError(
            f"product {ref!r} was removed from the catalogue (its spec left domains/); "
            "DataHub Lite keeps its history only"
        )
    props = aspects.get("datasetProperties", {})
    schema = aspects.get("schemaMetadata", {})
    lineage = aspects.get("upstreamLineage", {})
    domains = aspects.get("domains", {}).get("domains", [])
    domain_names = [_get(lite, d).get("domainProperties", {}).get("name", d) for d in domains]
    column_lineage: dict[str, list[str]] = {}
    for fine in lineage.get("fineGrainedLineages", []) or []:
        for down in fine.get("downstreams", []):
            column = down.rsplit(",", 1)[-1].rstrip(")")
            column_lineage.setdefault(column, []).extend(fine.get("upstreams", []))
    fields = [
        FieldView(
            name=f["fieldPath"],
            type=f.get("nativeDataType", ""),
            description=f.get("description", ""),
            tags=[t["tag"] for t in (f.get("globalTags") or {}).get("tags", [])],
            terms=[t["urn"] for t in (f.get("glossaryTerms") or {}).get("terms", [])],
        )
        for f in schema.get("fields", [])
    ]
    apps = aspects.get("applications", {}).get("applications", [])
    owners = [(o["owner"], o["type"]) for o in aspects.get("ownership", {}).get("owners", [])]
    owner_names = {
        o: name
        for o, _ in owners
        if (name := _get(lite, o).get("corpUserInfo", {}).get("displayName"))
    }
    return ProductCard(
        ref=ref,
        urn=urn,
        name=props.get("name", ref),
        description=props.get("description", ""),
        properties=props.get("customProperties", {}),
        domains=domains,
        domain_names=domain_names,
        owners=owners,
        owner_names=owner_names,
        data_products=[
            dp
            for dp in _search(lite, "dataProductProperties", urn)
            if urn
            in {
                a.get("destinationUrn")
                for a in _get(lite, dp).get("dataProductProperties", {}).get("assets", [])
            }
        ],
        upstreams=[u["dataset"] for u in lineage.get("upstreams", [])],
        column_lineage=column_lineage,
        fields=fields,
        checks=_checks(lite, urn),
        initiatives=[
            (a, _get(lite, a).get("applicationProperties", {}).get("name", a)) for a in apps
        ],
    )


def _checks(lite: DataHubLiteLocal, dataset_urn: str) -> list[CheckView]:
    out = []
    for assertion in _search(lite, "assertionInfo", dataset_urn):
        aspects = _get(lite, assertion)
        info = aspects.get("assertionInfo", {})
        if info.get("entityUrn") != dataset_urn:
            continue
        custom = info.get("customProperties", {})
        view = CheckView(
            check=custom.get("check", assertion),
            description=info.get("description", ""),
            category=custom.get("kahn_category", ""),
            severity=custom.get("severity", ""),
        )
        event = aspects.get("assertionRunEvent")
        if event:
            result = event.get("result", {})
            view.result = result.get("type")
            view.unexpected = result.get("unexpectedCount")
            view.rows = result.get("rowCount")
            view.run_id = event.get("runId")
            view.at = dt.datetime.fromtimestamp(event["timestampMillis"] / 1000, tz=dt.UTC)
        out.append(view)
    return sorted(out, key=lambda c: c.check)


_CLASS_TAG = "urn:li:tag:classification:"
_CODE_TAG = "urn:li:tag:code_system:"
_RESULT_STYLE = {"SUCCESS": "green", "FAILURE": "red", "ERROR": "magenta", None: "dim"}


def render(card: ProductCard) -> Group:
    """A rich renderable of a product card, for the terminal (in English, as all CLI output)."""
    head = Table.grid(padding=(0, 2))
    head.add_row(Text(card.name, style="bold"), Text(card.ref, style="cyan"))
    head.add_row("dataset", card.urn)
    head.add_row("domain", ", ".join(card.domain_names) or "-")
    head.add_row("data product", ", ".join(card.data_products) or "-")
    head.add_row(
        "owners", ", ".join(f"{card.owner_names.get(o, o)} ({t})" for o, t in card.owners) or "-"
    )
    head.add_row("upstream", "\n".join(card.upstreams) or "-")
    for key in ("last_snapshot", "row_count", "freshness", "key_id", "access_level"):
        if key in card.properties:
            head.add_row(key, card.properties[key])
    if level := card.properties.get("ehds_label.level"):
        score = card.properties.get("ehds_label.score", "?")
        head.add_row("EHDS quality label", f"{level} ({score}/100)")
    if rejected := card.properties.get("last_delivery_rejected"):
        # The previous snapshot is still current; say which delivery was refused and why.
        head.add_row(Text("last delivery rejected", style="bold red"), Text(rejected))
    if card.initiatives:
        head.add_row("initiatives", ", ".join(n for _, n in card.initiatives))

    schema = Table(title="Schema", show_lines=False)
    for col in ("column", "type", "classification", "code system", "terms", "from"):
        schema.add_column(col)
    for f in card.fields:
        schema.add_row(
            f.name,
            f.type,
            ", ".join(t.removeprefix(_CLASS_TAG) for t in f.tags if t.startswith(_CLASS_TAG)),
            ", ".join(t.removeprefix(_CODE_TAG) for t in f.tags if t.startswith(_CODE_TAG)),
            ", ".join(t.removeprefix("urn:li:glossaryTerm:") for t in f.terms),
            ", ".join(
                u.rsplit(",", 1)[-1].rstrip(")") for u in card.column_lineage.get(f.name, [])
            ),
        )

    quality = Table(title="Quality (latest run)")
    for col in ("rule", "category", "severity", "result", "unexpected", "rows"):
        quality.add_column(col)
    for c in card.checks:
        quality.add_row(
            c.check,
            c.category,
            c.severity,
            Text(c.result or "not run", style=_RESULT_STYLE.get(c.result, "")),
            "" if c.unexpected is None else str(c.unexpected),
            "" if c.rows is None else str(c.rows),
        )
    return Group(head, schema, quality)


def show(product_ref: str) -> Group:
    """Render what DataHub Lite holds for ``product_ref`` (`<domain>/<product>`)."""
    if "/" not in product_ref:
        raise UserError(
            f"product {product_ref!r}: give it as <domain>/<product>, e.g. population/persons"
        )
    lite = open_lite(read_only=True)
    try:
        return render(product_card(lite, product_ref))
    finally:
        lite.close()
