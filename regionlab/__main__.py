"""`python -m regionlab` is the `regionlab` command."""

from regionlab.cli import main

main()
