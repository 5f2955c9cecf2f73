"""Pydantic models of ``domain.yaml`` and the per-product YAML files."""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from regionlab.spec.labeling import LabelingTask
from regionlab.spec.rules import QualityRule
from regionlab.spec.stream import StreamSource
from regionlab.spec.vocab import (
    AccessLevel,
    Classification,
    CodeSystem,
    ColumnType,
    HealthCategory,
    KAnonymity,
    LoadMode,
    OwnerRole,
    Pseudonymisation,
    SmallCellPolicy,
    SourceEncoding,
    SourceFormat,
    Status,
    Terminology,
)

NAME = r"^[a-z][a-z0-9_]*$"
PRODUCT_REF = r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$"

PERSON_KEY_DESCRIPTION = (
    "Personnøgle: HMAC-SHA256 af CPR-nummeret med regionens nøgle. Samme person har samme "
    "nøgle i alle produkter med samme nøgle-id; CPR-nummeret kan ikke udledes af den."
)

# Published name and type of a column after its pseudonymisation rule.
_RULE_OUTPUT: dict[Pseudonymisation, tuple[str | None, ColumnType | None]] = {
    Pseudonymisation.person_key: ("person_key", ColumnType.varchar),
    Pseudonymisation.birth_year: ("birth_year", ColumnType.integer),
    Pseudonymisation.age_band: ("age_band", ColumnType.varchar),
    Pseudonymisation.municipality: ("municipality_code", ColumnType.varchar),
    Pseudonymisation.month: (None, ColumnType.date),
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Owner(_Spec):
    name: str
    email: EmailStr
    role: OwnerRole


class LegalBasis(_Spec):
    """Why the region may process and reuse the data."""

    gdpr_article_6: str = Field(description="e.g. 'art. 6, stk. 1, litra e'.")
    gdpr_article_9: str | None = Field(None, description="e.g. 'art. 9, stk. 2, litra h'.")
    national: list[str] = Field(default_factory=list, description="e.g. 'Sundhedsloven § 46'.")
    description: str | None = None


class Retention(_Spec):
    """How long rows are kept, counted from a date column of the product."""

    years: int = Field(ge=1, le=200)
    from_column: str = Field(description="Published date/timestamp column the period runs from.")
    justification: str


class VolumeGuard(_Spec):
    """A blocking check for replace-mode products: a new snapshot's size against the current."""

    max_shrink: float = Field(
        0.10, ge=0, le=1, description="Largest allowed drop in rows, as a fraction (0.10 = 10 %)."
    )
    max_growth: float = Field(
        0.50, ge=0, description="Largest allowed rise in rows, as a fraction (0.50 = 50 %)."
    )


class Source(_Spec):
    """Where a source product's extracts come from: `<sources>/<system>/<extract>/`."""

    system: str = Field(pattern=NAME, description="Source system, e.g. lpr3, labka, fmk.")
    extract: str = Field(pattern=NAME)
    format: SourceFormat
    description: str | None = None
    person_column: str | None = Field(
        None, description="Source column holding the CPR number (validated at ingest)."
    )
    load: LoadMode = Field(
        LoadMode.append,
        description="append: each dated extract adds rows; replace: the newest extract is "
        "the whole table (e.g. a register snapshot).",
    )
    encoding: SourceEncoding = Field(
        SourceEncoding.utf_8,
        description="Text encoding of the deliveries (csv, jsonl); a delivery that does not "
        "decode is rejected as a whole and the likely encoding is named.",
    )
    volume_guard: VolumeGuard = Field(
        default_factory=VolumeGuard,
        description="replace: how much a new snapshot may shrink or grow against the current "
        "one before the run blocks (the previous snapshot stays current).",
    )


class Derived(_Spec):
    """A product computed by SQL over upstream products, referenced as `domain.product`."""

    upstream: list[str] = Field(min_length=1, json_schema_extra={"items": {"pattern": PRODUCT_REF}})
    sql: str


class SmallCells(_Spec):
    """An aggregate's small-cell policy: counts below ``min_count`` never leave unflagged."""

    count_columns: list[str] = Field(
        min_length=1, description="Published integer columns holding counts of persons or events."
    )
    min_count: int = Field(5, ge=2, description="Smallest count published as it is.")
    policy: SmallCellPolicy = Field(
        description="suppress: smaller counts (1 to min_count - 1) are published empty; "
        "block: such a count fails the audit."
    )


class Privacy(_Spec):
    """k-anonymity over the quasi-identifiers: the columns classified ``quasi_identifier``."""

    quasi_identifiers: list[str] = Field(
        default_factory=list,
        description="Optional; if given, exactly the published names of the columns classified "
        "quasi_identifier (the audit checks all of those, whatever is listed here).",
    )
    min_k: int = Field(5, ge=2)
    k_anonymity: KAnonymity = Field(
        KAnonymity.required,
        description="required: the audit blocks a publish with a class smaller than min_k. "
        "not_achievable: a row-level product that cannot be k-anonymous; only available under "
        "a permit (access_level non_public), never in aggregate outputs unsuppressed.",
    )
    justification: str | None = Field(
        None, description="Why the product cannot be k-anonymous (required with not_achievable)."
    )
    small_cells: SmallCells | None = Field(
        None,
        description="Aggregate products: the counts that are small cells and what the audit "
        "does with them (suppress or block).",
    )


class Column(_Spec):
    """A column as it arrives from the source (or, for derived products, as computed)."""

    name: str = Field(pattern=NAME)
    type: ColumnType
    description: str
    classification: Classification = Classification.none
    pseudonymisation: Pseudonymisation = Pseudonymisation.keep
    output: str | None = Field(
        None, pattern=NAME, description="Published name, when the rule renames the column."
    )
    code_system: CodeSystem | None = None
    terminologies: list[Terminology] = Field(
        default_factory=list,
        description="Standard terminologies the column's codes come from when no single "
        "code_system fits (e.g. NPU and LOINC in one FHIR code column); catalogues "
        "declare them as coding systems.",
    )
    glossary_terms: list[str] = Field(default_factory=list)
    nullable: bool = True


class PublishedColumn(BaseModel):
    """A column as it appears in the lake, after pseudonymisation."""

    name: str
    type: ColumnType
    description: str
    classification: Classification
    code_system: CodeSystem | None
    terminologies: list[Terminology]
    glossary_terms: list[str]
    source_column: str
    rule: Pseudonymisation
    nullable: bool


class Product(_Spec):
    """One data product: a steward's promise about a table in the lake."""

    id: str = Field(pattern=NAME, description="Must equal the file name without .yaml.")
    domain: str = Field(pattern=NAME, description="Must equal the folder name.")
    title: str
    description: str
    purpose: str
    owners: list[Owner] = Field(min_length=1)
    status: Status = Status.active
    source: Source | None = None
    derived: Derived | None = None
    stream: StreamSource | None = Field(
        None, description="A streaming product: FHIR events from a broker topic, per micro-batch."
    )
    row_key: list[str] = Field(
        min_length=1, description="Published columns that identify a row stably."
    )
    columns: list[Column] = Field(min_length=1)
    quality: list[QualityRule] = Field(default_factory=list)
    privacy: Privacy = Field(default_factory=Privacy)
    legal_basis: LegalBasis
    retention: Retention
    access_level: AccessLevel = AccessLevel.non_public
    health_categories: list[HealthCategory] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    glossary_terms: list[str] = Field(default_factory=list)
    labeling: list[LabelingTask] = Field(
        default_factory=list, description="Label Studio annotation tasks over this product."
    )

    @model_validator(mode="after")
    def _source_xor_derived(self) -> Product:
        given = [k for k in ("source", "derived", "stream") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `source` (extracts), `derived` (SQL) or `stream` (events)"
            )
        return self

    @model_validator(mode="after")
    def _small_cell_columns(self) -> Product:
        cells = self.privacy.small_cells
        if cells is None:
            return self
        integer = {ColumnType.integer, ColumnType.bigint}
        for name in cells.count_columns:
            column = next((c for c in self.columns if (c.output or c.name) == name), None)
            if column is None or column.type not in integer:
                raise ValueError(
                    f"privacy.small_cells.count_columns: {name!r} is not a published integer "
                    "column; name the columns that hold the counts"
                )
        return self

    @property
    def ref(self) -> str:
        """The product's catalogue-wide id, `<domain>/<product>`."""
        return f"{self.domain}/{self.id}"

    @property
    def table(self) -> str:
        """Table name inside the lake: one schema per domain."""
        return f"{self.domain}.{self.id}"

    @property
    def is_derived(self) -> bool:
        return self.derived is not None

    @property
    def is_stream(self) -> bool:
        return self.stream is not None

    @property
    def person_column(self) -> str | None:
        """The source column holding the CPR number (extracts or events), if any."""
        if self.source is not None:
            return self.source.person_column
        return self.stream.person_column if self.stream is not None else None

    @property
    def upstream(self) -> list[str]:
        return list(self.derived.upstream) if self.derived else []

    @property
    def offered(self) -> bool:
        """Whether researchers may be offered the product (permits, the DCAT catalogue).

        A ``draft`` is built, audited and published for its stewards to inspect, but
        not offered until the steward sets ``status: active``.
        """
        return self.status is not Status.draft

    @property
    def check_reads(self) -> list[str]:
        """Other products this product's quality rules read (foreign keys, dates of death).

        They are not lineage (no row flows from them), but the audit can judge those rules
        only once they are in the lake, so runs order them first.
        """
        reads = (r[0] for rule in self.quality if (r := rule.reference()) is not None)
        return sorted({ref for ref in reads if ref != self.ref})

    @cached_property
    def published_columns(self) -> list[PublishedColumn]:
        """The columns that reach the lake, in order, renamed and retyped by their rules."""
        out = []
        for col in self.columns:
            if col.pseudonymisation is Pseudonymisation.drop:
                continue
            default_name, new_type = _RULE_OUTPUT.get(col.pseudonymisation, (None, None))
            out.append(
                PublishedColumn(
                    name=col.output or default_name or col.name,
                    type=new_type or col.type,
                    description=PERSON_KEY_DESCRIPTION
                    if col.pseudonymisation is Pseudonymisation.person_key
                    else col.description,
                    classification=Classification.pseudonym
                    if col.pseudonymisation is Pseudonymisation.person_key
                    else col.classification,
                    code_system=col.code_system,
                    terminologies=col.terminologies,
                    glossary_terms=col.glossary_terms,
                    source_column=col.name,
                    rule=col.pseudonymisation,
                    nullable=col.nullable,
                )
            )
        return out

    @property
    def quasi_identifiers(self) -> list[str]:
        """Published names of the columns classified quasi_identifier, in column order."""
        return [
            c.name
            for c in self.published_columns
            if c.classification is Classification.quasi_identifier
        ]

    @property
    def k_anonymous(self) -> bool:
        """False for a row-level product declared not k-anonymous (permit only)."""
        return self.privacy.k_anonymity is KAnonymity.required

    def published(self, name: str) -> PublishedColumn | None:
        return next((c for c in self.published_columns if c.name == name), None)

    @property
    def owners_by_role(self) -> dict[OwnerRole, list[Owner]]:
        roles: dict[OwnerRole, list[Owner]] = {}
        for owner in self.owners:
            roles.setdefault(owner.role, []).append(owner)
        return roles


class Domain(_Spec):
    """A business domain: one folder under ``domains/`` with its products."""

    id: str = Field(pattern=NAME, description="Must equal the folder name.")
    title: str
    description: str
    owners: list[Owner] = Field(min_length=1)


class GlossaryTerm(_Spec):
    id: str = Field(pattern=NAME)
    name: str
    definition: str
    related: list[str] = Field(default_factory=list)


class GlossaryNode(_Spec):
    id: str = Field(pattern=NAME)
    name: str
    description: str
    terms: list[GlossaryTerm] = Field(min_length=1)


class Glossary(_Spec):
    nodes: list[GlossaryNode] = Field(default_factory=list)

    def term_ids(self) -> set[str]:
        return {t.id for node in self.nodes for t in node.terms}


class Registry(BaseModel):
    """Everything under ``domains/``, loaded and cross-checked."""

    domains: dict[str, Domain]
    products: dict[str, Product]  # keyed by product ref `<domain>/<product>`
    glossary: Glossary

    def product(self, ref: str) -> Product:
        return self.products[ref]

    def topological(self) -> list[Product]:
        """Products in run order: every upstream before its derived products, and every
        product a quality rule reads before the product whose rule reads it (so a first run
        judges foreign keys against a published table). A rule that reads back along a
        cycle does not reorder (its check says the product is not in the lake yet)."""
        done: dict[str, Product] = {}
        visiting: set[str] = set()

        def visit(ref: str) -> None:
            if ref in done or ref in visiting:
                return
            visiting.add(ref)
            product = self.products[ref]
            for up in product.upstream:
                visit(up)
            for read in product.check_reads:
                if read in self.products:
                    visit(read)
            visiting.discard(ref)
            done[ref] = product

        for ref in sorted(self.products):
            visit(ref)
        return list(done.values())

    def batch_order(self) -> list[Product]:
        """The products a batch run builds, in run order: every product but the streaming
        ones (their consumer publishes them, micro-batch by micro-batch)."""
        return [p for p in self.topological() if not p.is_stream]

    def streams(self) -> list[Product]:
        return sorted((p for p in self.products.values() if p.is_stream), key=lambda p: p.ref)

    def downstream(self, ref: str) -> list[Product]:
        return [p for p in self.products.values() if ref in p.upstream]
