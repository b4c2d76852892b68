"""`python -m colorkit`: the same as the `colorkit` command."""

from colorkit.cli import main

raise SystemExit(main())
