"""`python -m painter_match` runs the command-line interface."""

from __future__ import annotations

from painter_match.cli import main

raise SystemExit(main())
