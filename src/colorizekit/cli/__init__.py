"""The `colorizekit` command line: `main` and `build_parser` (see `colorizekit.cli.main`)."""

from colorizekit.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
