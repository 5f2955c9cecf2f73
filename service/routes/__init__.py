"""Every router the service mounts, in the order the OpenAPI description lists them."""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import (
    apply_page,
    audit,
    feasibility,
    health,
    lake,
    outputs,
    permits,
    workspaces,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    feasibility.router,
    lake.router,
    audit.router,
    permits.router,
    outputs.router,
    workspaces.router,
    apply_page.router,
)

__all__ = ["ROUTERS"]
