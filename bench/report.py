"""The bench's output: one rich table of every row, the targets as met / not met, and the JSON document.

The JSON holds the schema version, the machine block (`bench.machine`), the settings, every row
(one dict per comparison row, timm-style, with its peak RSS) and the targets; the table is the
same rows in a form to read.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.targets import Target


def _figure(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if 0 < abs(value) < 0.1:  # an AUC difference, not a rate
        return f"{value:+.4f}"
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} M"
    return f"{value:,.{digits}f}"


def _detail(row: dict[str, Any]) -> str:
    parts = []
    if "gflops" in row:
        text = f"{row['gflops']:.1f} GFLOP/s"
        if row.get("ceiling_fraction") is not None:
            text += f" = {row['ceiling_fraction']:.0%} of {row['ceiling_gflops']:.0f}"
        parts.append(text)
    if row.get("ms_per_image") is not None:
        parts.append(f"{row['ms_per_image']:.2f} ms/image")
    if row.get("bound") is not None:
        parts.append(f"bound {row['bound']:.1f}/s, {row['bound_fraction']:.0%} of it")
    if row.get("bound_effective") is not None:
        parts.append(
            f"at {row['effective_cores']:.2f} effective cores: bound {row['bound_effective']:.1f}/s, "
            f"{row['bound_effective_fraction']:.0%} of it"
        )
    if row.get("views_per_s") is not None:
        parts.append(f"{row['views_per_s']:.1f} views/s ({row['views']} a painting)")
    if row.get("vs_usual") is not None:
        parts.append(f"{row['vs_usual']:.2f}x usual way")
    if row.get("stage") == "real" and row.get("source") and row.get("real") != "embed":
        parts.append(str(row["source"]))
    if row.get("stage") == "score" and row.get("median_s") is not None:
        parts.append(f"{row['median_s']:.2f} s for {row['pairs']:,} pairs")
    if row.get("added_s") is not None:  # reference scoring (bench.reference)
        parts.append(
            f"top-k {row['topk_posterior_s']:.2f} s + pairs {row['reference_pairs_s']:.2f} s against plain "
            f"pairs {row['plain_pairs_s']:.2f} s ({row['references']:,} x {row['queries']:,}, "
            f"{row['pairs']:,} pairs); peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    if row.get("vs_pandas") is not None:
        parts.append(f"{row['vs_pandas']:.1f}x pandas")
    for key in ("profile_ms", "profile_s"):
        if row.get(key):
            unit = "ms" if key == "profile_ms" else "s"
            parts.append(", ".join(f"{k} {v:.2f} {unit}" for k, v in row[key].items()))
    return "; ".join(parts)


def print_table(rows: Sequence[dict[str, Any]], targets: Sequence[Target], machine: dict[str, Any]) -> None:
    """The rows and the targets, on stdout."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)  # a file or a pipe: wide rows rather than wrapped ones
    title = (
        f"painter-match bench: {machine['cpu']}, {machine['cores']} cores "
        f"({' '.join(machine['cpu_flags']) or 'no AVX flags'}), GPU {machine['gpu'] or 'none'}, "
        f"load {machine.get('load_average_start')}, effective cores {machine.get('effective_cores_start')}"
    )
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("stage", "left"),
        ("comparison", "left"),
        ("figure", "right"),
        ("unit", "left"),
        ("detail", "left"),
        ("peak RSS MB", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            row["stage"],
            row["name"],
            _figure(row.get("value")),
            row.get("unit", ""),
            _detail(row),
            _figure(row.get("peak_rss_mb"), 0),
        )
    console.print(table)
    verdicts = Table(title="targets")
    for column in ("target", "measured", "limit", "verdict", "note"):
        verdicts.add_column(column)
    colours = {"met": "green", "not met": "red", "not measured": "yellow"}
    for target in targets:
        verdicts.add_row(
            target.name,
            _figure(target.measured, 2),
            target.limit,
            f"[{colours[target.status]}]{target.status}[/]",
            target.note,
        )
    console.print(verdicts)


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` through a temporary file beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
