"""The tables `make real-folds` and `make real-photographed` print from the evaluations they wrote.

python -m bench.yardstick_tables folds [--runs runs] [--folds 4]
python -m bench.yardstick_tables photographed [--runs runs]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STRENGTHS = ("0.25", "0.5", "0.75", "1.0")


def _read(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise SystemExit(
            f"{path}: cannot read the evaluation ({err}); run the make target that writes it"
        ) from None


def _auc(value: float | None) -> str:
    """A baseline's AUC, or "-" when the evaluation skipped it (``--no-baseline``)."""
    return "-" if value is None else f"{value:.4f}"


def folds_table(runs: Path, folds: int) -> str:
    """Each fold's fp32 and int8 AUC with the baselines, and the means."""
    rows = [
        (
            _read(runs / f"real-fold{k}" / "evaluate.json"),
            _read(runs / f"real-fold{k}" / "evaluate-int8.json"),
        )
        for k in range(folds)
    ]
    lines = ["fold  fp32    int8    ImageNet  colour"]
    for k, (fp32, int8) in enumerate(rows):
        imagenet, colour = _auc(fp32.get("imagenet_auc")), _auc(fp32.get("colour_histogram_auc"))
        lines.append(f"{k:<5} {fp32['roc_auc']:.4f}  {int8['roc_auc']:.4f}  {imagenet:<8}  {colour}")
    fp32_mean = sum(fp32["roc_auc"] for fp32, _ in rows) / folds
    int8_mean = sum(int8["roc_auc"] for _, int8 in rows) / folds
    lines.append(f"mean  {fp32_mean:.4f}  {int8_mean:.4f}")
    return "\n".join(lines)


def photographed_table(runs: Path) -> str:
    """Fold 0's model on the photographed copies at each strength, default and plain scoring."""
    lines = ["strength  AUC default  AUC plain  different / same called same (default)"]
    for strength in STRENGTHS:
        default = _read(runs / f"photographed-s{strength}-auto.json")
        plain = _read(runs / f"photographed-s{strength}-none.json")
        check = default["calibration_check"]
        lines.append(
            f"{strength:<9} {default['roc_auc']:.4f}       {plain['roc_auc']:.4f}     "
            f"{check['different_called_same']:.1%} / {check['same_called_same']:.1%}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.yardstick_tables", description=__doc__.split("\n")[0]
    )
    parser.add_argument("table", choices=("folds", "photographed"))
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where the evaluations are")
    parser.add_argument("--folds", type=int, default=4, help="how many folds (folds table)")
    args = parser.parse_args(argv)
    print(folds_table(args.runs, args.folds) if args.table == "folds" else photographed_table(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
