"""The package's version, in a module of its own so that any layer (and setup.cfg) can read it
without importing the public API in ``painter_match/__init__.py``."""

from __future__ import annotations

__version__ = "0.1.0"
