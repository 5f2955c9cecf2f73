"""Who is calling: the identity a verified token stands for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.roles import Role


@dataclass(frozen=True)
class Identity:
    """A verified caller. ``name`` comes from the token, never from the request body."""

    name: str
    role: Role
    issuer: Literal["builtin", "oidc"]


__all__ = ["Identity"]
