"""The ``graph-sessions`` command line (Typer + Rich)."""
