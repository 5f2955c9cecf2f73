"""Liveness (no token) and ``whoami`` (any role): what a client checks first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from service.auth import allow
from service.identity import Identity
from service.roles import ALL_ROLES

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str


class WhoAmI(BaseModel):
    name: str
    role: str
    issuer: str


@router.get("/health", response_model=Health)
def health() -> Health:
    """Whether the service answers; needs no token and says nothing else."""
    return Health(status="ok")


@router.get("/whoami", response_model=WhoAmI)
def whoami(who: Annotated[Identity, Depends(allow(*ALL_ROLES))]) -> WhoAmI:
    """The identity the presented token stands for."""
    return WhoAmI(name=who.name, role=who.role.value, issuer=who.issuer)
