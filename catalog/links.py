"""Where a product can be read about and applied for: the addresses every projection links.

The catalogue site's product page, the product's ODCS data contract (published
beside the site) and the access application on the region's access service.
The HealthDCAT-AP export and DataHub's ``institutionalMemory`` link the same
addresses, so they are built here once, from ``domains/catalog.yaml``
(``catalogue_url`` and ``access.service_url``).
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from regionlab.spec.region import RegionCatalogue

#: The access service's page on how to apply for a permit (``service/routes/apply_page.py``).
ACCESS_APPLICATION_ROUTE = "/permits/apply"


class CatalogueLinks(BaseModel):
    """Base addresses of the catalogue site and (once deployed) the access service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    access_service: str | None = None

    @classmethod
    def from_region(cls, region: RegionCatalogue) -> CatalogueLinks:
        service = region.access.service_url
        return cls(
            site=str(region.catalogue_url).rstrip("/"),
            access_service=str(service).rstrip("/") if service is not None else None,
        )

    def product_page(self, ref: str) -> str:
        """The product's page on the catalogue site (a hash route of the static site)."""
        return f"{self.site}/#/produkt/{ref}"

    def contract(self, ref: str) -> str:
        """The product's ODCS data contract, published beside the site under ``odcs/``."""
        domain, _, name = ref.partition("/")
        return f"{self.site}/odcs/{domain}/{name}.odcs.yaml"

    def sample(self, ref: str) -> str:
        """The product's synthetic sample (CSV), published beside the site under ``samples/``."""
        domain, _, name = ref.partition("/")
        return f"{self.site}/samples/{domain}/{name}.csv"

    def access_application(self, ref: str | None = None) -> str | None:
        """The access service's application page (``GET /permits/apply``), naming the product
        when one is given; None without a configured service."""
        if self.access_service is None:
            return None
        page = f"{self.access_service}{ACCESS_APPLICATION_ROUTE}"
        return page if ref is None else f"{page}?product={quote(ref, safe='')}"


def region_links() -> CatalogueLinks | None:
    """The links of the active domains folder's ``catalog.yaml``; None when it has none."""
    from regionlab.spec.region import catalog_file, load_region

    if not catalog_file().exists():
        return None
    return CatalogueLinks.from_region(load_region())
