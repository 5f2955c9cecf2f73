"""The people behind the ownership aspects: one corpuser per owner named in the specs.

Ownership aspects only point at ``urn:li:corpuser:<id>``; without a
``corpUserInfo`` aspect DataHub (and the site, which reads the same
proposals) can show nothing but that id. The specs hold each owner's real
name and e-mail, so they are emitted here — the names keep their Danish
letters, the ids (e-mail local parts) are what :func:`catalog.urns.user` makes.

Owners are staff acting in a role, not data subjects: their names belong in
the catalogue so researchers know whom to ask.
"""

from __future__ import annotations

from collections.abc import Iterator

from datahub.metadata.schema_classes import CorpUserInfoClass

from catalog import urns
from catalog.common import MCP, proposal
from regionlab.spec import Registry
from regionlab.spec.models import Owner


def owners_by_urn(registry: Registry) -> dict[str, Owner]:
    """Every owner of a domain or product, once per corpuser URN.

    Domains are read first, then products, each in id order, and the first
    mention wins: a steward spelled differently in two files still gets one
    stable entry.
    """
    out: dict[str, Owner] = {}
    domains = sorted(registry.domains.values(), key=lambda d: d.id)
    products = sorted(registry.products.values(), key=lambda p: p.ref)
    for owner in [o for d in domains for o in d.owners] + [o for p in products for o in p.owners]:
        out.setdefault(urns.user(owner.email), owner)
    return dict(sorted(out.items()))


def corpuser_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    """A full ``corpUserInfo`` (UPSERT) per owner: display name, full name, e-mail, active."""
    for urn, owner in owners_by_urn(registry).items():
        yield proposal(
            urn,
            CorpUserInfoClass(
                active=True,
                displayName=owner.name,
                fullName=owner.name,
                email=str(owner.email),
            ),
            when,
        )
