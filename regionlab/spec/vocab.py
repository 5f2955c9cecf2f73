"""Closed vocabularies used by the spec format.

They are enums so the generated JSON Schema lists the allowed values and a
steward's editor can offer them while typing.
"""

from __future__ import annotations

from enum import StrEnum


class Classification(StrEnum):
    """How identifying a column is; drives pseudonymisation and catalogue tags."""

    direct_identifier = "direct_identifier"
    pseudonym = "pseudonym"  # a keyed stand-in for a direct identifier: the person key
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"
    none = "none"


class ColumnType(StrEnum):
    """Logical column types, mapped one-to-one onto DuckDB types."""

    varchar = "varchar"
    integer = "integer"
    bigint = "bigint"
    double = "double"
    boolean = "boolean"
    date = "date"
    timestamp = "timestamp"

    @property
    def duckdb(self) -> str:
        return self.value.upper()


class Pseudonymisation(StrEnum):
    """What happens to a source column before it may leave the source stage."""

    keep = "keep"
    drop = "drop"
    person_key = "person_key"
    birth_year = "birth_year"
    age_band = "age_band"
    month = "month"
    municipality = "municipality"
    scrub_text = "scrub_text"


class CodeSystem(StrEnum):
    """Code lists shipped with regionlab (see ``regionlab.codelists``)."""

    sks_diagnoses = "sks_diagnoses"
    sks_procedures = "sks_procedures"
    npu = "npu"
    atc = "atc"
    municipalities = "municipalities"


class Terminology(StrEnum):
    """Standard terminologies a column's codes are drawn from when no single code list
    shipped with regionlab validates them — a FHIR coding that mixes systems (NPU for
    analyses, LOINC for vital signs) is still coded, and catalogues should say by what."""

    npu = "npu"
    loinc = "loinc"


class Kahn(StrEnum):
    """Kahn et al. (2016) data-quality categories, as used by OHDSI's DQD."""

    conformance = "conformance"
    completeness = "completeness"
    plausibility = "plausibility"


class Severity(StrEnum):
    blocking = "blocking"
    warning = "warning"


class OwnerRole(StrEnum):
    """Owner roles; they map onto DataHub's current ownership types."""

    data_steward = "data_steward"
    technical_owner = "technical_owner"
    business_owner = "business_owner"


class Status(StrEnum):
    draft = "draft"
    active = "active"
    deprecated = "deprecated"


class AccessLevel(StrEnum):
    """EU access-rights authority table values (HealthDCAT-AP ``dct:accessRights``)."""

    public = "public"
    restricted = "restricted"
    non_public = "non_public"


class SmallCellPolicy(StrEnum):
    """What the audit does with an aggregate's counts below the minimum cell size."""

    suppress = "suppress"
    """Counts from 1 to min_count - 1 are published as empty (NULL); the audit reports how
    many cells it suppressed."""
    block = "block"
    """A count from 1 to min_count - 1 fails the audit: nothing is published."""


class KAnonymity(StrEnum):
    """What a product promises about k-anonymity over its quasi-identifiers."""

    required = "required"
    """Every combination of quasi-identifier values occurs at least ``min_k`` times; the audit
    blocks a publish that breaks it."""
    not_achievable = "not_achievable"
    """A row-level product that cannot be k-anonymous (one row per person or event, with
    exact dates): available only under a permit, in a project workspace, and never shown
    in aggregate outputs without small-cell suppression. The audit measures k and reports it."""


class SourceFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


class HealthCategory(StrEnum):
    """HealthDCAT-AP release 8 health categories (EHDS Article 51 data categories)."""

    EHRS = "EHRS"  # Electronic health data from EHRs
    HRAD = "HRAD"  # Healthcare-related administrative data
    PHDR = "PHDR"  # Population-based health data registries
    MRMR = "MRMR"  # Medical registries and mortality registries
    RMMD = "RMMD"  # Registries for medicinal products and medical devices
    NRPE = "NRPE"  # Aggregated data on needs, resources, provision of healthcare
    DIOH = "DIOH"  # Factors impacting on health
    IDHP = "IDHP"  # Health professionals
    RQSH = "RQSH"  # Research cohorts, questionnaires and surveys
    EINS = "EINS"  # Biobanks
    PGEH = "PGEH"  # Personal data from medical devices
    HPML = "HPML"  # Other human molecular data
    RPDG = "RPDG"  # Pathogens
    EMRD = "EMRD"  # Other health data from medical devices
    WELA = "WELA"  # Wellness applications
    HGPD = "HGPD"  # Human genetic data
    EHCT = "EHCT"  # Clinical trials


class LoadMode(StrEnum):
    append = "append"
    replace = "replace"


class SourceEncoding(StrEnum):
    """Text encodings a delivery may declare (the CSV and JSON-lines readers decode these)."""

    utf_8 = "utf-8"
    latin_1 = "latin-1"
