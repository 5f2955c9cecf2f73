"""Building blocks shared by the emission modules: proposals, stamps, owners, tags."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from datahub.emitter.mce_builder import make_ownership_type_urn
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import (
    AuditStampClass,
    ChangeTypeClass,
    GlobalTagsClass,
    GlossaryTermAssociationClass,
    GlossaryTermsClass,
    OwnerClass,
    OwnershipClass,
    OwnershipTypeClass,
    SystemMetadataClass,
    TagAssociationClass,
    _Aspect,
)

from catalog import urns
from regionlab.spec.models import Owner
from regionlab.spec.vocab import OwnerRole

MCP = MetadataChangeProposalWrapper
ACTOR = "urn:li:corpuser:regionlab"
#: System metadata run id: lets DataHub roll back everything one emission wrote.
EMIT_RUN_ID = "regionlab-catalog"

#: The spec's owner roles onto DataHub's current (non-deprecated) ownership types.
_OWNER_TYPES: dict[OwnerRole, str] = {
    OwnerRole.data_steward: OwnershipTypeClass.DATA_STEWARD,
    OwnerRole.technical_owner: OwnershipTypeClass.TECHNICAL_OWNER,
    OwnerRole.business_owner: OwnershipTypeClass.BUSINESS_OWNER,
}


def proposal(urn: str, aspect: _Aspect, when: int) -> MCP:
    """An UPSERT of one aspect: DataHub Lite ignores PATCH, so everything is a full aspect."""
    return MetadataChangeProposalWrapper(
        entityUrn=urn,
        aspect=aspect,
        changeType=ChangeTypeClass.UPSERT,
        systemMetadata=SystemMetadataClass(lastObserved=when, runId=EMIT_RUN_ID),
    )


def stamp(when: int) -> AuditStampClass:
    return AuditStampClass(time=when, actor=ACTOR)


def ownership(owners: Sequence[Owner], when: int) -> OwnershipClass:
    """Owners as corpusers with DataHub's ownership type and its system type URN."""
    seen: set[tuple[str, str]] = set()
    out = []
    for owner in owners:
        kind = _OWNER_TYPES[owner.role]
        key = (urns.user(owner.email), kind)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            OwnerClass(
                owner=key[0],
                type=kind,
                typeUrn=make_ownership_type_urn(f"__system__{owner.role.value}"),
            )
        )
    return OwnershipClass(owners=out, lastModified=stamp(when))


def tags(tag_urns: Iterable[str]) -> GlobalTagsClass | None:
    unique = sorted(set(tag_urns))
    return GlobalTagsClass(tags=[TagAssociationClass(tag=t) for t in unique]) if unique else None


def terms(term_ids: Iterable[str], when: int) -> GlossaryTermsClass | None:
    unique = sorted(set(term_ids))
    if not unique:
        return None
    return GlossaryTermsClass(
        terms=[GlossaryTermAssociationClass(urn=urns.glossary_term(t)) for t in unique],
        auditStamp=stamp(when),
    )


def props(values: dict[str, object]) -> dict[str, str]:
    """Custom properties as strings, leaving out what is unknown (None or empty)."""
    return {k: str(v) for k, v in values.items() if v is not None and v != "" and v != []}
