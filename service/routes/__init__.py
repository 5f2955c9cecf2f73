"""Every router the service mounts, in the order the OpenAPI description lists them."""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import feasibility, health, lake

ROUTERS: tuple[APIRouter, ...] = (health.router, feasibility.router, lake.router)

__all__ = ["ROUTERS"]
