"""``similar``, ``verify`` and ``evaluate`` with ``--html``, on a tiny ONNX model and paintings the tests
make: each page parsed back and held to the command's own ``--json`` output (same paintings, same
scores), self-contained, and escaping a file named ``<script>.jpg`` and an artist named ``"&<>``.
The library parts (`report_data.per_artist_auc`, `mistake_examples`) are checked against a plain loop.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from html_kit import Page
from html_kit import assert_self_contained as _assert_self_contained
from html_kit import painting as _painting
from html_kit import read as _read
from onnx_models import write_tiny_model

from painter_match.cli import main
from painter_match.data.pairs import Pairs
from painter_match.evaluation.report_data import mistake_examples, per_artist_auc
from painter_match.metrics import roc_auc

NASTY_FILE = "<script>.jpg"
NASTY_ARTIST = '"&<>'
ARTISTS = (NASTY_ARTIST, "Berthe Morisot", "Paul Cézanne")


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A folder per artist (4 paintings each, one of them ``<script>.jpg``), a labels CSV, a tiny
    model, and the paintings' embeddings."""
    root = tmp_path_factory.mktemp("html_commands")
    data = root / "data"
    rows = []
    for a, artist in enumerate(ARTISTS):
        for i in range(4):
            name = NASTY_FILE if (a, i) == (0, 0) else f"{a}-{i}.jpg"
            # One palette per artist, so that the tiny model tells them apart a little.
            _painting(data / artist / name, seed=100 * a + i % 2, size=(96 + 16 * i, 80))
            rows.append((f"{artist}/{name}", artist))
    labels = root / "labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["filename", "artist"])
        writer.writerows(rows)
    model = write_tiny_model(root / "tiny.onnx")
    embeddings = root / "e.npz"
    assert main(["embed", str(data), "-o", str(embeddings), "-m", str(model), "-q"]) == 0
    return {"root": root, "data": data, "labels": labels, "model": model, "embeddings": embeddings}


def _run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main([*argv, "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def _images(page: Page) -> list[dict]:
    return page.find("img")


def test_similar_html_for_a_folder_of_queries_shows_the_json_results(
    workshop: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "similar.html"
    query_folder = workshop["data"] / NASTY_ARTIST  # its 4 paintings, each a query in the file
    argv = ["similar", str(query_folder), "--embeddings", str(workshop["embeddings"]), "-k", "3"]
    result = _run_json([*argv, "--labels", str(workshop["labels"]), "--html", str(out)], capsys)
    queries = result["queries"]
    assert [q["query"] for q in queries] == sorted(str(p) for p in query_folder.iterdir())
    assert all(q["query_in_embeddings"] and q["k"] == 3 for q in queries)

    text, page = _read(out)
    _assert_self_contained(text, page)
    sections = page.find("section", "query")
    assert len(sections) == 4
    # The query large, then its three neighbours: 16 paintings, every one decoded (no placeholder).
    assert len(_images(page)) == 4 + 4 * 3 and page.find(cls="placeholder") == []
    figures = page.find("figure", "neighbour")
    assert len(figures) == 12
    shown = [
        (f["attrs"]["title"], f["attrs"]["data-similarity"], f["attrs"]["data-probability"]) for f in figures
    ]
    expected = [
        (str(workshop["data"] / n["path"]), f"{n['similarity']:.6f}", f"{n['probability']:.6f}")
        for q in queries
        for n in q["neighbours"]
    ]
    assert shown == expected
    # The vote bars carry every artist of the JSON ranking, and the artist line each neighbour's.
    page_text = page.text()
    for q in queries:
        assert all(a["artist"] in page_text for a in q["artists"])
    assert [e["text"] for e in page.find(cls="artist") if e["tag"] == "span"][:3] == [
        n["artist"] for n in queries[0]["neighbours"]
    ]
    # Escaping: the file and the artist read as text, never as markup.
    assert f"{NASTY_ARTIST}/{NASTY_FILE}" in page_text and NASTY_ARTIST in page_text
    assert "<script" not in text.lower() and '"&<>' not in text


def test_similar_html_single_query_and_its_image_folder(
    workshop: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "one.html"
    query = f"{NASTY_ARTIST}/{NASTY_FILE}"  # as stored in the file; the image comes from --images
    argv = ["similar", query, "--embeddings", str(workshop["embeddings"]), "-k", "5"]
    result = _run_json([*argv, "--html", str(out), "--images", str(workshop["data"])], capsys)
    assert "queries" not in result and len(result["neighbours"]) == 5  # one query: the JSON as before
    text, page = _read(out)
    assert len(page.find("section", "query")) == 1 and len(_images(page)) == 6
    assert [f["attrs"]["data-similarity"] for f in page.find("figure", "neighbour")] == [
        f"{n['similarity']:.6f}" for n in result["neighbours"]
    ]
    assert "No vote: none of the neighbours has a known artist." in page.text()  # no labels, no vote
    # A wrong --images folder: the thumbnails show as boxes saying why, the page is still written.
    assert main([*argv, "--html", str(out), "--images", str(tmp_path), "-q"]) == 1  # the page exists
    assert main([*argv, "--html", str(out), "--images", str(tmp_path), "-q", "--force"]) == 0
    assert len(_read(out)[1].find(cls="placeholder")) == 6
    # --images alone is a usage error; an --html that is the embeddings file is refused.
    assert main([*argv, "--images", str(workshop["data"]), "-q"]) == 2
    assert main([*argv, "--html", str(workshop["embeddings"]), "-q"]) == 1


def test_verify_html_shows_the_json_verdict(
    workshop: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "verify.html"
    a = workshop["data"] / NASTY_ARTIST / NASTY_FILE
    b = workshop["data"] / ARTISTS[1] / "1-2.jpg"
    result = _run_json(["verify", str(a), str(b), "-m", str(workshop["model"]), "--html", str(out)], capsys)
    text, page = _read(out)
    _assert_self_contained(text, page)
    assert len(_images(page)) == 2 and page.find(cls="placeholder") == []
    (verdict,) = page.find("div", "verdict")
    assert verdict["attrs"]["data-similarity"] == f"{result['similarity']:.6f}"
    assert verdict["attrs"]["data-probability"] == f"{result['probability']:.6f}"
    assert verdict["attrs"]["data-threshold"] == f"{result['threshold']:.6f}"
    assert ("same" if result["same_artist"] else "different") in verdict["attrs"]["class"].split()
    assert f"{result['probability']:.3f}" in verdict["text"]
    assert str(a) in page.text() and "<script" not in text.lower()
    assert len(page.find("svg")) == 1  # the calibration curve


def test_evaluate_html_shows_the_json_scores_and_the_library_parts(
    workshop: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evaluate.html"
    argv = ["evaluate", str(workshop["model"]), str(workshop["data"]), "--html", str(out)]
    result = _run_json(argv, capsys)
    assert result["html"] == str(out) and result["pairs_scored"] == 66  # all pairs of 12 paintings
    text, page = _read(out)
    _assert_self_contained(text, page)
    assert "<script" not in text.lower()
    facts = {row["text"].strip() for row in page.find("tr")}
    assert any(f"{result['roc_auc']:.4f}" in fact and "ROC AUC" in fact for fact in facts)
    legend = " ".join(e["text"] for e in page.find("text"))
    assert f"colour histogram (AUC {result['colour_histogram_auc']:.4f})" in legend
    # The ImageNet baseline runs where torch and its weights are installed; elsewhere the JSON says
    # why and the page draws no curve for it. Either way the page and the JSON must agree.
    if result["imagenet_auc"] is None:
        assert result["imagenet_skipped"] and "ImageNet" not in legend
    else:
        assert result["imagenet_skipped"] is None
        assert f"ImageNet features, no training (AUC {result['imagenet_auc']:.4f})" in legend
    assert [p["attrs"]["id"] for p in page.find("figure", "plot")] == ["roc", "histogram", "reliability"]

    # Per-artist AUC: the JSON's, worst first, the nasty name as text.
    per_artist = result["per_artist_auc"]
    assert set(per_artist) == set(ARTISTS)
    rows = [(r["text"], a["text"]) for r, a in zip(page.find("td", "artist"), page.find("td", "auc"))]
    ranked = sorted(per_artist.items(), key=lambda item: (item[1] is None, item[1] or 0, item[0]))
    assert rows == [(name, f"{auc:.4f}" if auc is not None else "n/a") for name, auc in ranked]

    # Mistakes: pairs on the wrong side of the threshold, two thumbnails each.
    mistakes = page.find("figure", "mistake")
    assert 0 < len(mistakes) <= 16
    assert len(_images(page)) == 2 * len(mistakes)
    for figure in mistakes:
        similarity = float(figure["attrs"]["data-similarity"])
        if figure["attrs"]["data-same-artist"] == "true":
            assert similarity < result["threshold"]
        else:
            assert similarity >= result["threshold"]
    # With no baseline asked for, the ROC carries the model alone.
    result = _run_json([*argv, "--no-baseline", "--force"], capsys)  # the page is replaced only when asked
    legend = " ".join(e["text"] for e in _read(out)[1].find("text"))
    assert "colour histogram" not in legend and f"(AUC {result['roc_auc']:.4f})" in legend


def test_per_artist_auc_equals_a_plain_loop() -> None:
    rng = np.random.default_rng(4)
    artists = ["a", "b", "c", None]
    who = rng.integers(0, 4, (300, 2))
    first = [artists[i] for i in who[:, 0]]
    second = [artists[i] for i in who[:, 1]]
    labels = np.array([f is not None and f == s for f, s in zip(first, second)])
    scores = rng.normal(size=300) + labels
    got = per_artist_auc(labels, scores, first, second)
    assert list(got) == ["a", "b", "c"]
    for artist in "abc":
        rows = [i for i in range(300) if artist in (first[i], second[i])]
        assert got[artist] == pytest.approx(roc_auc(labels[rows], scores[rows]))
    # An artist with only different-artist pairs has no AUC, and lengths must agree.
    assert per_artist_auc([0, 1], [0.1, 0.9], ["x", "y"], ["z", "y"]) == {"x": None, "y": None, "z": None}
    with pytest.raises(ValueError, match="equally long"):
        per_artist_auc([0, 1], [0.1, 0.9], ["x"], ["z", "y"])


def test_mistake_examples_are_the_confident_wrong_pairs(tmp_path: Path) -> None:
    pairs = Pairs(
        tmp_path,
        ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"],
        np.array([0, 0, 1, 2]),
        np.array([1, 2, 3, 3]),
        np.array([True, False, False, True]),
        ["A", "A", "B", "B"],
    )
    scores = np.array([0.2, 0.9, 0.7, 0.8])
    examples = mistake_examples(pairs, pairs.first, pairs.second, pairs.same, scores, threshold=0.5)
    # Different artists above 0.5, highest first; then same artist below 0.5.
    assert [(e.first_name, e.second_name, e.similarity, e.same_artist) for e in examples] == [
        ("p0.jpg", "p2.jpg", 0.9, False),
        ("p1.jpg", "p3.jpg", 0.7, False),
        ("p0.jpg", "p1.jpg", 0.2, True),
    ]
    assert examples[0].first == tmp_path / "p0.jpg" and examples[1].second_artist == "B"
