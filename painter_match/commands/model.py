"""`painter-match model [-m MODEL]`: which model the commands would run, what it is, and its terms.

Every rule of the model choice is listed with the file it names (``-m``, ``$PAINTER_MATCH_MODEL``,
``./models/painter-match.onnx``, the packaged default) and the one that wins now is marked; then the
winner's contract (input, views, embedding, variant, calibration), its figures, the terms it comes
under, where the packaged model's card is, and which ONNX Runtime build runs it. The work is
`painter_match.inference.model_report.report`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from painter_match.commands.common import PROG, add_command, print_json

if TYPE_CHECKING:
    from painter_match.inference.model_report import ModelReport


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    model = add_command(
        commands,
        "model",
        help="which model runs, its contract, figures and terms, and where its card is",
        description="List the rules that choose the model (-m, $PAINTER_MATCH_MODEL, "
        "./models/painter-match.onnx, the packaged default) with the file each names, mark the one that "
        "wins here and now, and print that model's contract, figures and terms and the card's path.",
    )
    model.add_argument(
        "-m",
        "--model",
        type=Path,
        default=None,
        help="the model a command would be given with -m (it then wins over every other rule)",
    )
    model.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    return model


def run(args: argparse.Namespace) -> int:
    from painter_match.inference.model_report import report

    result = report(args.model)
    if args.json:
        print_json(result.to_dict())
    else:
        print("\n".join(_lines(result)))
    if result.error is not None:
        print(f"{PROG}: error: {result.error}", file=sys.stderr)
        return 1
    return 0


def _lines(result: ModelReport) -> list[str]:
    from painter_match.inference.model_report import contract

    lines = ["Which model runs (the first rule that names one wins):"]
    width = max(len(r.means) for r in result.rules)
    for number, rule in enumerate(result.rules, 1):
        named = rule.path if rule.path is not None else f"({rule.note})"
        if rule.path is not None and rule.note:
            named += f" ({rule.note})"
        lines.append(f"  {number}. {rule.means:<{width}}  {named}{'   <- runs now' if rule.chosen else ''}")
    info = result.info
    if info is not None:
        summary = contract(info, result.size_bytes)
        calibration = summary["calibration"]
        size = f", {result.size_bytes / 1e6:.1f} MB" if result.size_bytes is not None else ""
        views = (
            "one view (the whole painting)"
            if info.views.crops == 0
            else f"{1 + info.views.crops} views (the whole painting and {info.views.crops} crops at "
            f"{info.views.crop_scale:g}x), averaged"
        )
        lines += [
            f"Model {result.path}",
            f"  {info.backbone}, {info.variant}{size}; identity {info.identity}",
            f"  input {summary['input']}, {views}",
            f"  output a {info.embedding_dim}-number L2-normalised embedding, compared by {info.metric}",
            f"  calibration P(same artist) = sigmoid({calibration['slope']:.3f} x similarity "
            f"{'-' if calibration['intercept'] < 0 else '+'} {abs(calibration['intercept']):.3f}): 0.5 at "
            f"similarity {calibration['p_half_at']:.4f}, "
            f"fitted on {calibration['pairs']:,} pairs, {calibration['positive_share']:.0%} same-artist",
        ]
    if result.figures:
        lines.append("Figures (ROC AUC, pairs of paintings by artists the model was not trained on):")
        lines += [f"  {f.value:.4f}  {f.name} ({f.source})" for f in result.figures]
    if info is not None:
        lines.append(f"Terms: {result.terms}" + (f" ({result.terms_file})" if result.packaged else ""))
        lines.append(f"  painter-match's code: {result.code_license} licence")
    if result.card is not None:
        lines.append(f"Card of the packaged model: {result.card}")
    runtime = result.runtime
    if runtime:
        installed = ", ".join(f"{name} {version}" for name, version in runtime["builds"].items())
        lines.append(
            f"Runtime: onnxruntime {runtime['onnxruntime']} ({installed}); providers: "
            + ", ".join(runtime["providers"])
        )
        if runtime["warning"]:
            lines.append(f"  {runtime['warning']}")
    return lines
