"""The static catalogue site: built from the catalogue metadata, browsable without a server."""
