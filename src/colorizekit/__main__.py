"""`python -m colorizekit`: the same as the `colorizekit` command."""

from colorizekit.cli import main

raise SystemExit(main())
