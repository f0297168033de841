"""painter-match: decide whether two paintings were painted by the same artist."""

from __future__ import annotations

__version__ = "0.1.0"
