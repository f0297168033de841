"""``python -m bench.gpu_report BENCH.json``: the GPU figures of one bench run as a section of RESULTS.md.

`bench/gpu-check` runs the bench on CUDA and this turns its JSON into a dated Markdown section:
the device (``nvidia-smi -L``), the GPU tests' outcome, the model-only rows (images/s by variant,
batch size and I/O binding) and the end-to-end rows (paintings/s with their views), each with
what bounds it: decoding on every core or the model on the GPU, whichever gives fewer paintings
a second. The section is appended to the results file atomically (the whole file rewritten
beside it and renamed), so an interrupted check never leaves half a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from painter_match import atomic


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def bound_of(row: dict[str, Any], views: int, cores: float) -> tuple[str, float | None]:
    """What limits an end-to-end row: ``("decode", rate)`` or ``("GPU", rate)`` in paintings/s.

    Decoding costs one decode a painting on every core (``decode_per_core * cores``); the model
    runs ``views`` rows a painting, so the GPU gives ``model_rate / views`` paintings a second.
    """
    decode = row.get("decode_per_core")
    model = row.get("model_rate")
    if decode is None or model is None:
        return ("unknown", None)
    decode_rate = float(decode) * cores
    gpu_rate = float(model) / max(1, views)
    return ("decode", decode_rate) if decode_rate <= gpu_rate else ("GPU", gpu_rate)


def _views(row: dict[str, Any], default: int) -> int:
    extra = [str(a) for a in row.get("extra_args", [])]
    if "--views" in extra and extra.index("--views") + 1 < len(extra):
        return 1 + int(extra[extra.index("--views") + 1])
    return default


def render(document: dict[str, Any], device: str, tests: str, command: str, default_views: int = 1) -> str:
    """The Markdown section for one bench document."""
    machine = document.get("machine", {})
    cores = float(machine.get("cores") or machine.get("cpu_count") or 1)
    rows = document.get("rows", [])
    lines = [
        f"### GPU check, {document.get('date', '')}",
        "",
        f"- Device: {device.strip() or 'unknown'}",
        f"- Command: `{command}` (bench: `{document.get('command', '')}`)",
        f"- GPU tests (`pytest -m gpu`): {tests.strip() or 'not run'}",
        "",
        "Model only (images/s; iobind: pixels already on the device):",
        "",
        "| variant | provider | batch | I/O binding | images/s |",
        "|---|---|---:|---|---:|",
    ]
    model_rows = sorted(
        (r for r in rows if r.get("stage") == "model" and r.get("provider") != "cpu"),
        key=lambda r: (
            str(r.get("variant")),
            str(r.get("provider")),
            bool(r.get("io_binding")),
            r.get("batch_size", 0),
        ),
    )
    for r in model_rows:
        lines.append(
            f"| {r.get('variant')} | {r.get('provider_used', r.get('provider'))} | {r.get('batch_size')} | "
            f"{'yes' if r.get('io_binding') else 'no'} | {_rate(r.get('value'))} |"
        )
    if not model_rows:
        lines.append("| - | - | - | - | no GPU model rows (see the bench's errors) |")
    lines += [
        "",
        "End to end, `painter-match embed` (paintings/s; bound: the slower of decoding on every core and the model):",
        "",
        "| variant | provider | views | paintings/s | views/s | bound by | bound paintings/s | share of bound |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    embed_rows = [r for r in rows if r.get("stage") == "embed" and r.get("provider") != "cpu"]
    for r in embed_rows:
        views = _views(r, default_views)
        what, bound = bound_of(r, views, cores)
        value = r.get("value")
        share = f"{value / bound:.0%}" if value is not None and bound else "-"
        views_rate = value * views if value is not None else None
        lines.append(
            f"| {r.get('variant')} | {r.get('provider')} | {views} | {_rate(value)} | {_rate(views_rate)} | "
            f"{what} | {_rate(bound)} | {share} |"
        )
    if not embed_rows:
        lines.append("| - | - | - | - | - | - | - | no GPU end-to-end rows |")
    errors = document.get("errors") or []
    if errors:
        lines += ["", "Failed: " + "; ".join(str(e) for e in errors)]
    return "\n".join(lines) + "\n"


def append(results: Path, section: str) -> None:
    """Append ``section`` to ``results`` atomically (a blank line before it)."""
    before = results.read_text(encoding="utf-8") if results.exists() else ""
    joined = before.rstrip("\n") + "\n\n" + section if before else section
    atomic.write_bytes(results, joined.encode("utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_report", description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="the bench's --json file")
    parser.add_argument("--results", type=Path, required=True, help="the Markdown file to append to")
    parser.add_argument("--device", default="", help="the GPU, as nvidia-smi -L names it")
    parser.add_argument("--tests", default="", help="the GPU tests' summary line")
    parser.add_argument("--command", default="bench/gpu-check", help="the command that made the figures")
    parser.add_argument("--views", type=int, default=1, help="views a painting when the rows do not say")
    args = parser.parse_args(argv)
    try:
        document = json.loads(args.json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        print(f"bench.gpu_report: error: cannot read {args.json}: {err}", file=sys.stderr)
        return 1
    section = render(document, args.device, args.tests, args.command, args.views)
    append(args.results, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
