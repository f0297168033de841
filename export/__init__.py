"""The repository's ``python -m export`` (what `make export` runs): a thin entry point.

The export itself is a library, `painter_match.train.export` (`export_model`), installed with the
package and reachable as ``painter-match export``; this folder only keeps the command working
from a clone. Nothing is imported here, so ``python -m export --help`` stays instant.
"""
