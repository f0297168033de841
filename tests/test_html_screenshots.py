"""The three HTML reports opened in a real browser (headless Chromium), photographed, and checked not
to be blank: the test a person would do by looking.

The reports are made from the synthetic painters, scored by the colour-histogram baseline (no model
needs training for this). With ``REPORT_SCREENSHOTS=DIR`` (``make report-check`` sets ``docs``)
small copies of the screenshots are saved there, for the README.
"""

from __future__ import annotations

import csv
import os
import subprocess
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter_match.data.images import load_image
from painter_match.data.synth import SynthConfig, generate
from painter_match.evaluation.baselines import colour_histogram
from painter_match.evaluation.html_report import (
    ArtistVote,
    Neighbour,
    PairExample,
    SimilarQuery,
    confident_mistakes,
    evaluation_report,
    similar_report,
    verify_report,
)
from painter_match.inference.calibration import fit_calibration
from painter_match.metrics import roc_auc

CHROMIUM = Path("/usr/bin/chromium")
DOCS_LIMIT = 300_000  # bytes per saved screenshot
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def _features(paths: list[Path], bins: int) -> np.ndarray:
    return np.stack([colour_histogram(np.asarray(load_image(p, min_side=128)), bins) for p in paths])


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("screens")
    data = root / "data"
    generate(
        data,
        SynthConfig(seed=11, artists=8, test_artists=3, paintings=9, min_size=260, max_size=560, workers=1),
    )
    with open(data / "all_data_info.csv", newline="", encoding="utf-8") as file:
        rows = [r for r in csv.DictReader(file)]
    paths = [data / ("train" if r["in_train"] == "True" else "test") / r["new_filename"] for r in rows]
    artists = np.array([r["artist"] for r in rows])
    features, coarse = _features(paths, 8), _features(paths, 2)
    similarity, coarse_similarity = features @ features.T, coarse @ coarse.T
    first, second = (np.array(side) for side in zip(*combinations(range(len(paths)), 2)))
    labels = (artists[first] == artists[second]).astype(int)
    scores = similarity[first, second].astype(np.float64)
    calibration = fit_calibration(scores, labels)
    name = "colour histogram"

    queries = []
    for q in (3, 40):
        ranked = [int(i) for i in np.argsort(-similarity[q], kind="stable") if i != q][:10]
        votes: dict[str, float] = {}
        for i in ranked:
            votes[artists[i]] = votes.get(artists[i], 0.0) + max(float(similarity[q, i]), 0.0)
        total = sum(votes.values())
        neighbours = [
            Neighbour(
                paths[i],
                f"{paths[i].parent.name}/{paths[i].name}",
                float(similarity[q, i]),
                float(calibration.probability(similarity[q, i])),
                str(artists[i]),
            )
            for i in ranked
        ]
        ranking = sorted(votes.items(), key=lambda item: -item[1])
        queries.append(
            SimilarQuery(paths[q], paths[q].name, neighbours, [ArtistVote(a, s / total) for a, s in ranking])
        )
    similar = similar_report(
        queries,
        root / "similar.html",
        subtitle="Illustration: synthetic painters ranked by the colour-histogram baseline, not a trained model",
    )

    # A same-artist pair the baseline gets right, from the middle of those.
    right = np.flatnonzero((labels == 1) & (scores >= calibration.threshold))
    pair = int(right[np.argsort(scores[right])[right.size // 2]])
    a, b = int(first[pair]), int(second[pair])
    verify = verify_report(
        paths[a],
        paths[b],
        float(scores[pair]),
        float(calibration.probability(scores[pair])),
        calibration.threshold,
        (calibration.slope, calibration.intercept),
        root / "verify.html",
        names=(paths[a].name, paths[b].name),
    )

    different, same = confident_mistakes(labels, scores, 4, threshold=calibration.threshold)
    mistakes = [
        PairExample(
            paths[first[i]],
            paths[second[i]],
            bool(labels[i]),
            float(scores[i]),
            artists[first[i]],
            artists[second[i]],
        )
        for i in [*different.tolist(), *same.tolist()]
    ]
    per_artist = {}
    for artist in sorted(set(artists.tolist())):
        involved = (artists[first] == artist) | (artists[second] == artist)
        kinds = set(labels[involved].tolist())
        per_artist[artist] = roc_auc(labels[involved], scores[involved]) if kinds == {0, 1} else None
    evaluation = evaluation_report(
        labels,
        scores,
        root / "evaluation.html",
        baselines={"coarse colour histogram": (labels, coarse_similarity[first, second])},
        calibration=(calibration.slope, calibration.intercept),
        threshold=calibration.threshold,
        per_artist_auc=per_artist,
        mistakes=mistakes,
        model_name=name,
        subtitle=f"Illustration: all {labels.size:,} pairs of the synthetic painters, scored by the {name}",
    )
    return {"similar": similar, "verify": verify, "evaluate": evaluation}


def _screenshot(html: Path, png: Path) -> np.ndarray:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={png.parent / 'chromium-profile'}",
        f"--screenshot={png}",
        "--window-size=1200,1600",
        html.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert png.is_file(), f"Chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    return np.asarray(Image.open(png).convert("RGB"))


def _save_small(png: Path, target: Path) -> None:
    """Half size, 256 colours: a screenshot for the README well under `DOCS_LIMIT`."""
    image = Image.open(png).convert("RGB")
    image = image.resize((image.width * 2 // 3, image.height * 2 // 3), Image.Resampling.LANCZOS)
    for colours in (256, 128, 64):
        # Octree keeps the few exact colours of plots and text that median cut blends away.
        small = image.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        small.save(target, optimize=True)
        if target.stat().st_size < DOCS_LIMIT:
            return
    raise AssertionError(f"{target} is {target.stat().st_size:,} bytes even at 64 colours")


@pytest.mark.parametrize("kind", ["similar", "verify", "evaluate"])
def test_report_renders_in_a_real_browser(kind: str, reports: dict[str, Path], tmp_path: Path) -> None:
    png = tmp_path / f"report-{kind}.png"
    pixels = _screenshot(reports[kind], png)
    assert pixels.shape == (1600, 1200, 3)
    grey = pixels.mean(axis=2)
    # Not blank: ink covers a fair part of the page and the pixels vary.
    assert grey.std() > 20, grey.std()
    assert (grey < 200).mean() > 0.02
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    if kind in ("similar", "verify"):
        assert colours > 5000, f"paintings missing? only {colours} colours"
    # The model's blue (#0072b2) is drawn: the ROC curve, the calibration curve or the vote bars.
    blue = np.abs(pixels.astype(int) - [0, 114, 178]).sum(axis=2) < 30
    assert blue.sum() > 300
    folder = os.environ.get("REPORT_SCREENSHOTS")
    if folder:
        target = Path(folder) / png.name
        target.parent.mkdir(parents=True, exist_ok=True)
        _save_small(png, target)
