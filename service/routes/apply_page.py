"""``GET /permits/apply``: the page the catalogue's "Ansøg om adgang" links point at.

DataHub, the catalogue site and the ODCS contracts link every non-public
product to ``<access service>/permits/apply?product=<ref>``
(:mod:`catalog.links`). This page tells a researcher how to apply there: with
``regionlab permit apply`` or ``POST /permits/applications`` and their own
token. It is public (a link from a catalogue must open without a token) and
holds no data: the product reference is echoed only when it has the shape of
one, escaped, and no lookup is made.
"""

from __future__ import annotations

import html
import re

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from service.site import CSP

router = APIRouter(tags=["permits"])

#: The route, as :data:`catalog.links.ACCESS_APPLICATION_ROUTE` links it.
ROUTE = "/permits/apply"
_REF = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")

_PAGE = """<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>Ansøg om adgang</title></head>
<body>
<h1>Ansøg om adgang{product_title}</h1>
<p>Ikke-offentlige dataprodukter udleveres kun til et godkendt projekt. En ansøgning
beskriver formål, hjemmel, de ønskede produkter og kolonner, kohorte og periode;
en adgangsansvarlig (access officer) godkender eller afviser den med en begrundelse.</p>
<h2>Sådan ansøger du</h2>
<ol>
<li>Log ind med dit token: <code>regionlab login</code>.</li>
<li>Skriv ansøgningen som en tilladelsesfil (se <code>permits/</code>){product_hint}.</li>
<li>Send den: <code>regionlab permit apply &lt;fil&gt;</code> &mdash; eller
<code>POST /permits/applications</code> med dit token
(se <a href="/docs">API-beskrivelsen</a>).</li>
<li>Følg sagen: <code>regionlab permit list</code>; afgørelsen kommer inden for 3 måneder
efter en fuldstændig ansøgning (EHDS).</li>
</ol>
<p>Start gerne med en optælling (feasibility) i <a href="/site/{site_route}">datakataloget</a>.</p>
</body></html>
"""


@router.get(ROUTE, response_class=HTMLResponse)
def apply_page(product: str | None = None) -> HTMLResponse:
    """How to apply for a permit (public page; names the product when the link gave one)."""
    ref = product if product is not None and _REF.match(product) else None
    page = _PAGE.format(
        product_title=f" til {html.escape(ref)}" if ref else "",
        product_hint=f" og nævn produktet <code>{html.escape(ref)}</code>" if ref else "",
        site_route=f"#/produkt/{html.escape(ref)}" if ref else "",
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": CSP})


__all__ = ["ROUTE", "router"]
