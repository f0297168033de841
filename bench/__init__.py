"""python -m bench: how fast painter-match is, stage by stage, against the limit and the usual way.

Each comparison (one loader on one size of image, one model variant on one provider, one end-to-end
run, one scoring engine) runs in its own child process (`bench.runner`), so that its peak memory is
its own and no import or cache of one comparison helps another. Every figure is a median of timed
repeats after warm-up. `bench.__main__` chooses the comparisons, `bench.report` prints the table and
writes the JSON, and `bench.targets` reads the results against the issue's targets.
"""

from __future__ import annotations

# Bumped when a result field changes meaning, so that JSON files from different versions are
# never compared by accident.
SCHEMA_VERSION = 1
