"""A recipe as users run it, outside the source it learnt from: yardstick b of docs/real-photographs.md.

For each direction (wikiart-224 -> real-paintings-128, real-paintings-128 -> wikiart-224) the
preset trains on one shared folder (`painter-match train --preset real`), is exported as the
packaged int8 model is (`python -m export --int8`), and `painter-match evaluate` scores every pair
(at most 60 paintings per artist) of the other folder's artists that the training folder lacks,
with the default scoring (``--collection auto``) and with plain cosines (``--collection none``).
Reported per direction: ROC AUC of both, the untrained ImageNet baseline on the same pairs, and
the verdicts at P(same) >= 0.5 (shares of different- and same-artist pairs called "same",
accuracy beside calling every pair different, log-loss, ECE).

    python -m bench.cross_source [--data ../shared/data] [--runs runs/cross] [--extra "--imagenet-weight 0"] [--json FILE]

Trains and exports into ``--runs`` (never committed); a direction whose evaluation is already
there is read back, so an interrupted run goes on where it stopped. Without the data it says so
and exits 0.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DIRECTIONS = (("wikiart-224", "real-paintings-128"), ("real-paintings-128", "wikiart-224"))


def _artists(folder: Path) -> set[str]:
    from painter_match.data.catalogue import read_catalogue

    return set(read_catalogue(folder).paintings["artist"])


def _run(argv: list[str], out: Path | None = None) -> None:
    print("$", shlex.join(argv), flush=True)
    if out is None:
        subprocess.run(argv, check=True)
        return
    with open(out, "w", encoding="utf-8") as sink:
        subprocess.run(argv, check=True, stdout=sink)


def direction(data: Path, runs: Path, train: str, test: str, extra: list[str]) -> dict[str, Any]:
    """Train on ``train``, evaluate on ``test``'s other artists; the two evaluations' JSON."""
    run = runs / f"{train}-to-{test}"
    results = {mode: run / f"evaluate-{mode}.json" for mode in ("auto", "none")}
    if not all(path.exists() for path in results.values()):
        run.mkdir(parents=True, exist_ok=True)
        unseen = sorted(_artists(data / test) - _artists(data / train))
        artists = run / "artists.txt"
        artists.write_text("".join(f"{a}\n" for a in unseen), encoding="utf-8")
        bin_dir = Path(sys.executable).parent
        if not (run / "train" / "best.pt").exists():
            _run(
                [
                    str(bin_dir / "painter-match"),
                    "train",
                    str(data / train),
                    "-o",
                    str(run / "train"),
                    "--preset",
                    "real",
                    "--feature-cache",
                    "runs/feature-cache",
                    "--quiet",
                    *extra,
                ]
            )
        model = run / "model-int8.onnx"
        _run(
            [
                sys.executable,
                "-m",
                "export",
                str(run / "train" / "best.pt"),
                "-o",
                str(model),
                "--int8",
                "--force",
                "--quiet",
            ]
        )
        for mode, path in results.items():
            argv = [
                str(bin_dir / "painter-match"),
                "evaluate",
                str(model),
                str(data / test),
                "--artists",
                str(artists),
                "--find-painting",
                "off",
                "--collection",
                mode,
                "--quiet",
                "--json",
            ]
            if mode == "none":
                argv.append("--no-baseline")
            _run(argv, out=path.with_suffix(".part"))
            path.with_suffix(".part").replace(path)
    return {mode: json.loads(path.read_text()) for mode, path in results.items()}


def summary(train: str, test: str, found: dict[str, Any]) -> dict[str, Any]:
    auto, none = found["auto"], found["none"]

    def verdicts(result: dict[str, Any]) -> dict[str, float]:
        check = result["calibration_check"]
        return {
            k: check[k]
            for k in (
                "different_called_same",
                "same_called_same",
                "accuracy",
                "accuracy_all_different",
                "log_loss",
                "ece",
            )
        }

    return {
        "direction": f"{train} -> {test}",
        "pairs": auto["pairs_scored"],
        "auc_default": auto["roc_auc"],
        "collection": auto["collection"],
        "auc_plain": none["roc_auc"],
        "imagenet_auc": auto.get("imagenet_auc"),
        "colour_auc": auto.get("colour_histogram_auc"),
        "verdicts_default": verdicts(auto),
        "verdicts_plain": verdicts(none),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cross_source", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the folder holding both shared sets")
    parser.add_argument("--runs", type=Path, default=Path("runs/cross"), help="where runs and evaluations go")
    parser.add_argument("--extra", default="", help="more `train` options, e.g. '--imagenet-weight 0'")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not all((args.data / name).is_dir() for pair in DIRECTIONS for name in pair):
        print(
            f"bench.cross_source: the shared sets are not under {args.data}; nothing to measure (not an error)"
        )
        return 0
    rows = [
        summary(tr, te, direction(args.data, args.runs, tr, te, shlex.split(args.extra)))
        for tr, te in DIRECTIONS
    ]
    print(
        "| direction | pairs | AUC default | AUC plain | ImageNet | different called same (default / plain) "
        "| same called same (default / plain) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        d, p = r["verdicts_default"], r["verdicts_plain"]
        print(
            f"| {r['direction']} | {r['pairs']:,} | {r['auc_default']:.4f} | {r['auc_plain']:.4f} | "
            f"{(r['imagenet_auc'] or float('nan')):.4f} | {d['different_called_same']:.1%} / "
            f"{p['different_called_same']:.1%} | {d['same_called_same']:.1%} / {p['same_called_same']:.1%} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
