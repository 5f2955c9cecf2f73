"""Research access: feasibility counts, disclosure control, permits and workspaces.

Everything a researcher sees outside a workspace passes through this package's
disclosure control (small-cell suppression, output checks, audit log), so the
modules here stay self-contained and import nothing from the outer layers.
"""
