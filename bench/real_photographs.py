"""A model as users run it, on phone photographs of paintings: ``../shared/data/gallery-photos``.

The catalogue (270 images) and the 60 phone photos (30 cropped to the painting, 30 with frame and
wall) are embedded through the public API (`painter_match.load().embed`, the painting finder at
the model's default) and compared as ``score`` compares a collection: centred on the mean of all
330 pictures when the collection adaptation applies (``--collection``), with the calibration that
goes with it. Reported per adaptation:

- photo -> catalogue: the rank of each photo's own catalogue image among all 270 (top-1, top-5,
  mean reciprocal rank), wall and cropped photos apart;
- same artist across the two kinds of picture: each labelled photo against every labelled
  catalogue image but its own painting, ROC AUC;
- verdicts at P(same) >= 0.5 on those pairs: the share of different-artist pairs called the same,
  of same-artist pairs called the same, accuracy (beside calling every pair different), log-loss
  and expected calibration error.

    python -m bench.real_photographs [--model FILE] [--collection auto,none] [--find-painting auto] [--json]

Without the data it says so and exits 0 (the data is never copied into the project).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gallery-photos"


def gallery_metrics(
    catalogue: np.ndarray,
    photos: np.ndarray,
    catalogue_rows: Sequence[dict[str, str]],
    photo_rows: Sequence[dict[str, str]],
    probability: Any = None,
) -> dict[str, Any]:
    """Retrieval, same-artist AUC and verdicts from unit embeddings of the catalogue and the photos.

    Args:
        catalogue, photos: [C, D] and [P, D] unit vectors, compared by their dot product.
        catalogue_rows: ``filename``, ``artist`` ("" when unknown) of each catalogue image.
        photo_rows: ``photo``, ``catalogue_image``, ``artist`` of each photo.
        probability: similarity -> P(same artist) for the verdict figures, or None.
    """
    from painter_match.metrics import expected_calibration_error, log_loss, roc_auc

    names = [row["filename"] for row in catalogue_rows]
    own = np.array([names.index(row["catalogue_image"]) for row in photo_rows])
    similarity = photos @ catalogue.T
    rank = (similarity > similarity[np.arange(len(own)), own][:, None]).sum(axis=1)
    out: dict[str, Any] = {}
    for kind in ("wall", "cropped"):
        mask = np.array([row["photo"].startswith(f"photos-{kind}") for row in photo_rows])
        out[kind] = {
            "photos": int(mask.sum()),
            "top1": float((rank[mask] == 0).mean()),
            "top5": float((rank[mask] < 5).mean()),
            "mrr": float((1.0 / (rank[mask] + 1)).mean()),
        }
    catalogue_artist = np.array([row["artist"] for row in catalogue_rows])
    scores, same = [], []
    for i, row in enumerate(photo_rows):
        if not row["artist"]:
            continue
        columns = np.flatnonzero((catalogue_artist != "") & (np.arange(len(names)) != own[i]))
        scores.append(similarity[i, columns])
        same.append(catalogue_artist[columns] == row["artist"])
    pair_scores, labels = np.concatenate(scores), np.concatenate(same)
    out["same_artist"] = {
        "pairs": int(labels.size),
        "same_share": float(labels.mean()),
        "auc": roc_auc(labels, pair_scores),
    }
    if probability is not None:
        p = np.asarray(probability(pair_scores), dtype=np.float64)
        called = p >= 0.5
        out["verdicts"] = {
            "different_called_same": float(called[~labels].mean()),
            "same_called_same": float(called[labels].mean()),
            "accuracy": float((called == labels).mean()),
            "accuracy_all_different": float((~labels).mean()),
            "log_loss": log_loss(labels, p),
            "ece": expected_calibration_error(labels, p),
        }
    return out


def measure(
    data: Path, model_path: str | None, collections: Sequence[str], find_painting: str
) -> dict[str, Any]:
    import painter_match
    from painter_match.inference.collection import adapt_for_model

    with open(data / "catalogue.csv", newline="", encoding="utf-8") as handle:
        catalogue_rows = list(csv.DictReader(handle))
    with open(data / "photos.csv", newline="", encoding="utf-8") as handle:
        photo_rows = list(csv.DictReader(handle))
    model = painter_match.load(model_path)
    paths = [data / row["filename"] for row in catalogue_rows] + [data / row["photo"] for row in photo_rows]
    vectors = model.embed(paths, find_painting=find_painting)
    result: dict[str, Any] = {"model": str(model.path), "find_painting": find_painting, "collections": {}}
    for choice in collections:
        adaptation, calibration = adapt_for_model(
            vectors, model.info.collection, model.info.calibration, choice
        )
        adapted = adaptation.apply(vectors)
        figures = gallery_metrics(
            adapted[: len(catalogue_rows)],
            adapted[len(catalogue_rows) :],
            catalogue_rows,
            photo_rows,
            calibration.probability,
        )
        result["collections"][choice] = {"adaptation": adaptation.record(), **figures}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.real_photographs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the gallery-photos folder")
    parser.add_argument(
        "--model", default=None, help="an .onnx model (default: painter_match.load()'s choice)"
    )
    parser.add_argument("--collection", default="auto,none", help="comma-separated adaptations to report")
    parser.add_argument("--find-painting", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not (args.data / "catalogue.csv").is_file():
        print(
            f"bench.real_photographs: skipped, {args.data} is absent (development data, not in the project)"
        )
        return 0
    result = measure(args.data, args.model, args.collection.split(","), args.find_painting)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']} (find_painting={args.find_painting})")
    for choice, r in result["collections"].items():
        v = r.get("verdicts", {})
        print(
            f"  collection {choice:6s} ({r['adaptation']['method']}): wall top-1 {r['wall']['top1']:.3f} top-5 "
            f"{r['wall']['top5']:.3f} MRR {r['wall']['mrr']:.3f} | cropped top-1 {r['cropped']['top1']:.3f} | "
            f"same-artist AUC {r['same_artist']['auc']:.4f} | different called same {v.get('different_called_same', 0):.1%}, "
            f"same called same {v.get('same_called_same', 0):.1%}, accuracy {v.get('accuracy', 0):.3f} "
            f"(all different {v.get('accuracy_all_different', 0):.3f}), ECE {v.get('ece', 0):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
