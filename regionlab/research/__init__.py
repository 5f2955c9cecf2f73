"""Research access: feasibility counts, disclosure control, permits and workspaces.

Everything a researcher sees outside a workspace passes through this package's
disclosure control (small-cell suppression, output checks, audit log), so the
modules here stay self-contained and import nothing from the outer layers.
"""


def open_workspace(project: str):  # type: ignore[no-untyped-def]
    """A read-only DuckDB connection to a project's workspace (refused after the permit expires).

    Imported lazily so `import regionlab.research` stays light.
    """
    from regionlab.research.workspace import open_workspace as _open

    return _open(project)
