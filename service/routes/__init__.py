"""Every router the service mounts, in the order the OpenAPI description lists them."""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import audit, health

ROUTERS: tuple[APIRouter, ...] = (health.router, audit.router)

__all__ = ["ROUTERS"]
