"""DataHub metadata emission, catalogue exports and the catalogue site.

Importing the package first points DataHub's per-user files at
``<var>/datahub/home`` (see :mod:`catalog.home`), so no ``catalog`` module
writes to the user's home folder.
"""

from catalog.home import isolate as _isolate_datahub_home

_isolate_datahub_home()
