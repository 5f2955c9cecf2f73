"""``GET /permits/apply``: the page every catalogue "Ansøg om adgang" link opens."""

from __future__ import annotations

from urllib.parse import urlsplit

from catalog.links import ACCESS_APPLICATION_ROUTE, CatalogueLinks
from service.tokens import TokenStore
from tests.service.conftest import client_for


def test_the_catalogues_application_link_opens_the_services_page(store: TokenStore) -> None:
    link = CatalogueLinks(
        site="https://data.example.dk/katalog", access_service="https://data.example.dk/adgang"
    ).access_application("population/persons")
    assert link is not None
    path = urlsplit(link).path.removeprefix("/adgang")
    assert path == ACCESS_APPLICATION_ROUTE
    client = client_for(store)
    page = client.get(f"{path}?{urlsplit(link).query}")  # no token: a catalogue link
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Ansøg om adgang til population/persons" in page.text
    assert "regionlab permit apply" in page.text and "/permits/applications" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_page_echoes_only_a_product_reference(store: TokenStore) -> None:
    client = client_for(store)
    page = client.get(ACCESS_APPLICATION_ROUTE, params={"product": "<script>alert(1)</script>"})
    assert page.status_code == 200
    assert "<script" not in page.text and "alert" not in page.text
    assert "Ansøg om adgang</h1>" in page.text
