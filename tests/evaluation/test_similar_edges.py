"""Issue 27's edges: ``similar --prior``, the query's own copy left out of the vote, full artist names
in the vote bars, the evaluate page's missing figures and notes, and the verify page's plain words."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from html_kit import painting as _painting
from html_kit import read as _read
from onnx_models import TEST_CALIBRATION, write_tiny_model

from painter_match import load
from painter_match.cli import main
from painter_match.evaluation.html_report import evaluation_report, verify_report
from painter_match.evaluation.svg_plots import bars_svg, wrap_label
from painter_match.inference.neighbours import similar

LONG = "Workshop of Pierre-Auguste Renoir and Anthony van Dyck"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two artists of three paintings each, one painting also stored under the other artist (a copy)."""
    root = tmp_path_factory.mktemp("edges")
    data = root / "data"
    for a, artist in enumerate(("Berthe Morisot", LONG)):
        for i in range(3):
            _painting(data / artist / f"{a}-{i}.jpg", seed=10 * a + i, size=(96, 80))
    shutil.copyfile(data / LONG / "1-0.jpg", data / "Berthe Morisot" / "copy.jpg")
    outside = root / "query.jpg"
    shutil.copyfile(data / "Berthe Morisot" / "0-1.jpg", outside)
    model = write_tiny_model(root / "tiny.onnx")
    embeddings = root / "e.npz"
    assert main(["embed", str(data), "-o", str(embeddings), "-m", str(model), "-q"]) == 0
    return {"root": root, "data": data, "model": model, "embeddings": embeddings, "outside": outside}


def test_the_query_copy_is_listed_but_has_no_vote(folder: dict[str, Path]) -> None:
    # Stored under another artist: without the rule Berthe Morisot would win a vote at similarity 1.
    [result] = similar(f"{LONG}/1-0.jpg", folder["embeddings"], k=4, labels=folder["data"])
    first = result.neighbours[0]
    assert first.path == "Berthe Morisot/copy.jpg" and first.duplicate_of_query
    assert not any(n.duplicate_of_query for n in result.neighbours[1:])
    assert result.duplicates == 1 and result.labelled == 3
    voted = sum(max(n.similarity, 0.0) for n in result.neighbours[1:] if n.artist is not None)
    assert sum(v.score for v in result.votes) == pytest.approx(voted, abs=1e-5)
    payload = result.to_dict()
    assert payload["neighbours"][0]["duplicate_of_query"] is True
    assert payload["left_out_as_query_copy"] == 1


def test_an_outside_copy_of_a_painting_is_caught(folder: dict[str, Path]) -> None:
    [result] = similar(
        folder["outside"],
        folder["embeddings"],
        k=3,
        labels=folder["data"],
        model=lambda: load(folder["model"]),
    )
    assert result.neighbours[0].path == "Berthe Morisot/0-1.jpg" and result.neighbours[0].duplicate_of_query


def test_prior_moves_the_probabilities_by_bayes_rule(folder: dict[str, Path]) -> None:
    [plain] = similar(f"{LONG}/1-1.jpg", folder["embeddings"], k=5, collection="none")
    [moved] = similar(f"{LONG}/1-1.jpg", folder["embeddings"], k=5, collection="none", prior=0.01)
    assert plain.prior == pytest.approx(TEST_CALIBRATION.positive_share) and moved.prior == 0.01
    expected = TEST_CALIBRATION.at_prior(0.01)
    assert [n.path for n in moved.neighbours] == [n.path for n in plain.neighbours]  # ranking unchanged
    for n in moved.neighbours:
        assert n.probability == pytest.approx(float(expected.probability(n.similarity)), abs=1e-6)
    with pytest.raises(ValueError, match="prior"):
        similar(f"{LONG}/1-1.jpg", folder["embeddings"], prior=1.5)


def test_similar_cli_takes_prior_and_its_page_states_it(
    folder: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["similar", f"{LONG}/1-0.jpg", "--embeddings", str(folder["embeddings"]), "--labels"]
    base += [str(folder["data"]), "-k", "4"]
    assert main([*base, "--prior", "0.02", "--json", "-q"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["prior"] == 0.02 and payload["neighbours"][0]["duplicate_of_query"] is True
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "the query's own copy: no vote" in out and "1 neighbour left out as the query's own copy" in out
    page = tmp_path / "s.html"
    assert main([*base, "--html", str(page), "-q"]) == 0
    _, parsed = _read(page)
    note = parsed.find("p", "prior")[0]
    assert (
        note["attrs"]["data-prior"] == "0.5" and "--prior" in note["text"]
    )  # unrelated painters look likely
    copies = [
        f for f in parsed.find("figure", "neighbour") if f["attrs"]["data-duplicate-of-query"] == "true"
    ]
    assert len(copies) == 1 and "no vote" in copies[0]["text"]
    assert "left out as the query's own copy" in parsed.text()
    # The vote bars name the long artist in full, wrapped over lines.
    assert LONG in " ".join(parsed.text().split())


def test_vote_bars_wrap_long_names_whole() -> None:
    lines = wrap_label(LONG, 26)
    assert len(lines) > 1 and all(len(line) <= 26 for line in lines) and " ".join(lines) == LONG
    svg = str(bars_svg([(LONG, 0.7), ("Goya", 0.3)]))
    spans = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg)
    assert " ".join(spans[: len(lines)]) == LONG and "…" not in svg


def test_evaluate_page_states_subsets_prior_advice_and_explains_na_and_ece(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(2000) < 0.02).astype(int)
    scores = np.where(labels == 1, rng.normal(0.6, 0.2, labels.size), rng.normal(0.2, 0.2, labels.size))
    check = {
        "fitted_share": 0.5,
        "pairs_share": float(labels.mean()),
        "mean_probability": 0.3,
        "log_loss": 0.9,
        "moved": {
            "prior": float(labels.mean()),
            "mean_probability": 0.02,
            "log_loss": 0.1,
            "accuracy": 0.98,
            "threshold": 0.7,
        },
    }
    out = evaluation_report(
        labels,
        scores,
        tmp_path / "e.html",
        calibration=(8.0, -2.0),
        threshold=0.25,
        per_artist_auc={"Monet": 0.8, "Goya": None, "Degas": None},
        artist_subsets={"artists seen in training": (0.91, 1200), "artists unseen in training": (None, 0)},
        calibration_check=check,
    )
    _, page = _read(out)
    text = " ".join(page.text().split())
    assert "ROC AUC, artists seen in training0.9100 (1,200 pairs)" in text  # a fact's name, then value
    assert "ROC AUC, artists unseen in trainingn/a (0 pairs)" in text
    assert "n/a (2 artists, listed last)" in text and "single painting" in text
    assert "The ECE is large" in text and "--prior" in text and "With --prior" in text


def test_verify_page_speaks_plainly_and_keeps_labels_off_the_plot(tmp_path: Path) -> None:
    a, b = _painting(tmp_path / "a.jpg", 1), _painting(tmp_path / "b.jpg", 2)
    for similarity in (-0.9, 0.1, 0.5, 0.99):
        out = verify_report(a, b, similarity, 0.5, 0.5, (6.681, -1.799), tmp_path / "v.html")
        html, page = _read(out)
        facts = page.find("table", "facts")[0]["text"]
        assert "how alike the two paintings look to the model" in facts
        assert "cosine" not in facts and "sigmoid" not in facts
        details = page.find("details")
        assert len(details) == 1 and "sigmoid(6.681" in details[0]["text"]
        svg = re.search(r"<svg[^>]*>.*?Calibration curve.*?</svg>", html, re.S)
        assert svg is not None
        plot_top = float(
            re.search(
                r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="[\d.]+" '
                r'fill="none"',
                svg.group(0),
            ).group(1)
        )
        # Every label in the plot's band above the frame: none over the curve, the marker or each other.
        labels = re.findall(
            r'<text[^>]*class="label"[^>]*y="([\d.]+)"|<text[^>]*y="([\d.]+)"[^>]*class="label"', svg.group(0)
        )
        ys = sorted(float(y1 or y2) for y1, y2 in labels)
        assert len(ys) == 2 and ys[-1] < plot_top and ys[1] - ys[0] >= 14
