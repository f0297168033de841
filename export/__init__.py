"""``python -m export`` (what `make export` runs): a thin entry point, installed with the package.

The export itself is a library, `painter_match.train.export` (`export_model`), also reachable as
``painter-match export``; this package is the design's top-level name for it, and works the same
from a clone or after ``pip install`` (it needs the ``[train]`` extra to export, not for ``--help``).
Nothing is imported here, so ``python -m export --help`` stays instant.
"""
