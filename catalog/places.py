"""Where the data is: the region and its municipalities as GeoNames features.

HealthDCAT-AP (R8) accepts a dataset's ``dct:spatial`` from the EU's country,
place and continent tables or from GeoNames; sub-national areas are only in
GeoNames. Each feature keeps its national and EU identity beside it: the
municipality code (kommunekode, the key of ``regionlab/codelists/municipalities.csv``)
and, for the region, its NUTS 2 code.

The GeoNames ids are the ``admin1``/``admin2`` features of Denmark (``DK.21`` =
Region Syddanmark, ``DK.21.<kommunekode>`` = its municipalities) in the GeoNames
geographical database (https://www.geonames.org, CC BY 4.0). They are public
reference data about places, never about persons.
"""

from __future__ import annotations

from rdflib import URIRef

#: GeoNames scheme IRI the R8 vocabulary shape asks a GeoNames value to be in.
GEONAMES_SCHEME = URIRef("http://sws.geonames.org")
#: Region Syddanmark: NUTS 2 code and GeoNames feature (admin1 DK.21).
REGION_NUTS = URIRef("http://data.europa.eu/nuts/code/DK03")
REGION_GEONAMES = 6418542
#: Danish municipalities in the national register of administrative units (DAGI).
DAGI_MUNICIPALITY = "https://api.dataforsyningen.dk/kommuner/"

#: Kommunekode → GeoNames id of the municipality (admin2 ``DK.21.<code>``).
MUNICIPALITY_GEONAMES: dict[str, int] = {
    "410": 2616932,  # Middelfart
    "420": 2624500,  # Assens
    "430": 6543936,  # Faaborg-Midtfyn
    "440": 2618941,  # Kerteminde
    "450": 2616011,  # Nyborg
    "461": 2615872,  # Odense
    "479": 2612044,  # Svendborg
    "480": 6543929,  # Nordfyns
    "482": 6543942,  # Langeland
    "492": 6543935,  # Ærø
    "510": 2620961,  # Haderslev
    "530": 2624143,  # Billund
    "540": 2613221,  # Sønderborg
    "550": 2611516,  # Tønder
    "561": 6543925,  # Esbjerg
    "563": 2622341,  # Fanø
    "573": 2622446,  # Varde
    "575": 2610631,  # Vejen
    "580": 2625068,  # Aabenraa
    "607": 2621950,  # Fredericia
    "621": 2618525,  # Kolding
    "630": 2610601,  # Vejle
}


def geonames(feature_id: int) -> URIRef:
    """The GeoNames semantic-web IRI of a feature."""
    return URIRef(f"https://sws.geonames.org/{feature_id}/")


def dagi(code: str) -> URIRef:
    """The DAGI address of a municipality (four-digit kommunekode)."""
    return URIRef(f"{DAGI_MUNICIPALITY}{int(code):04d}")
