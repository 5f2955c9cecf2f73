"""`python -m regionlab` is the `regionlab` command."""

from cli import main

main()
