"""The HTML reports, read back the way a browser would: parsed with the standard library's HTMLParser.

Every page is checked for what a reader sees (the right number of paintings, the scores given,
the verdict, the AUC in the ROC legend) and for what must never be there (a script, a URL, an
unescaped file or artist name). Images are made by the tests themselves.
"""

from __future__ import annotations

import configparser
import fnmatch
import subprocess
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from html_kit import Page
from html_kit import assert_self_contained as _assert_self_contained
from html_kit import painting as _painting
from html_kit import read as _read
from PIL import Image

from painter_match.errors import OutputError
from painter_match.evaluation import render
from painter_match.evaluation.html_report import (
    ArtistVote,
    Neighbour,
    PairExample,
    SimilarQuery,
    confident_mistakes,
    evaluation_report,
    image_sides,
    similar_report,
    verify_report,
)
from painter_match.evaluation.svg_plots import expected_calibration_error, reliability_bins
from painter_match.evaluation.thumbnails import make_thumbnail
from painter_match.metrics import roc_auc

ROOT = Path(__file__).resolve().parents[2]


def _query(
    folder: Path, k: int = 5, seed: int = 0, artists: tuple[str, ...] = ("Monet", "Degas")
) -> SimilarQuery:
    rng = np.random.default_rng(seed)
    similarity = np.sort(rng.uniform(-0.2, 0.95, k))[::-1]
    neighbours = [
        Neighbour(
            path=f"train/n{seed}-{i}.jpg",
            file=_painting(folder / f"n{seed}-{i}.jpg", seed * 1000 + i),
            similarity=float(similarity[i]),
            probability=float(1 / (1 + np.exp(-(6 * similarity[i] - 2)))),
            artist=artists[i % len(artists)],
        )
        for i in range(k)
    ]
    votes = [ArtistVote(artists[0], 2.5, 0.625), ArtistVote(artists[1], 1.5, 0.375)]
    return SimilarQuery(_painting(folder / f"q{seed}.jpg", 99_000 + seed), f"q{seed}.jpg", neighbours, votes)


def test_similar_report_shows_every_painting_with_its_scores(tmp_path: Path) -> None:
    queries = [_query(tmp_path / "img", k=6, seed=1), _query(tmp_path / "img", k=4, seed=2)]
    out = similar_report(queries, tmp_path / "similar.html")

    text, page = _read(out)
    _assert_self_contained(text, page)
    assert len(page.find("img")) == 2 + 6 + 4
    assert len(page.find("section", "query")) == 2
    figures = page.find("figure", "neighbour")
    expected = [n for q in queries for n in q.neighbours]
    assert len(figures) == len(expected)
    for figure, neighbour, rank in zip(figures, expected, [*range(1, 7), *range(1, 5)]):
        attrs = figure["attrs"]
        assert attrs["data-rank"] == str(rank)
        assert float(attrs["data-similarity"]) == pytest.approx(neighbour.similarity, abs=5e-7)
        assert float(attrs["data-probability"]) == pytest.approx(neighbour.probability, abs=5e-7)
        assert f"similarity {neighbour.similarity:.4f}" in figure["text"]
        assert f"P(same) {neighbour.probability:.3f}" in figure["text"]
        assert neighbour.path in figure["text"] and neighbour.artist in figure["text"]
    # The vote: one bar chart per query, shares as shown percentages.
    charts = [svg for svg in page.find("svg") if "Artist vote" in svg["text"]]
    assert len(charts) == 2 and "62.5%" in charts[0]["text"] and "37.5%" in charts[0]["text"]
    # Thumbnails at most 160 px, the query at most 400 px (these images are 192 x 144).
    sizes = [(int(i["attrs"]["width"]), int(i["attrs"]["height"])) for i in page.find("img")]
    assert sizes[0] == (192, 144) and sizes[1] == (160, 120)


def test_similar_report_without_labels_says_there_is_no_vote(tmp_path: Path) -> None:
    query = _query(tmp_path, k=3)
    bare = SimilarQuery(
        query.path,
        query.name,
        [replace(n, artist=None) for n in query.neighbours],
    )
    _, page = _read(similar_report([bare], tmp_path / "similar.html"))
    assert "none of the neighbours has a known artist" in page.text()
    assert page.find("span", "artist") == []


def test_unreadable_paintings_become_boxes_with_the_cause(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    missing = tmp_path / "gone.jpg"
    good = _painting(tmp_path / "good.jpg", 1)
    neighbours = [
        Neighbour("corrupt.jpg", 0.5, probability=0.6, file=corrupt),
        Neighbour("gone.jpg", 0.4, probability=0.5, file=missing),
        Neighbour("good.jpg", 0.3, probability=0.4, file=good),
    ]
    _, page = _read(similar_report([SimilarQuery(missing, "gone.jpg", neighbours)], tmp_path / "r.html"))
    assert len(page.find("img")) == 1
    boxes = page.find("div", "placeholder")
    assert len(boxes) == 3
    assert "file not found" in boxes[0]["text"] and "gone.jpg" in boxes[0]["text"]
    assert "corrupt.jpg" in boxes[1]["text"]
    thumbnail = make_thumbnail(corrupt)
    assert thumbnail.src is None and thumbnail.error and thumbnail.error in boxes[1]["text"]


def test_odd_images_are_decoded_like_the_model_sees_them(tmp_path: Path) -> None:
    """CMYK, greyscale, 16-bit, transparent and large files all give thumbnails within the side."""
    files = [
        _painting(tmp_path / "cmyk.jpg", 1, mode="CMYK"),
        _painting(tmp_path / "grey.png", 2, mode="L"),
        _painting(tmp_path / "alpha.png", 3, mode="RGBA"),
        _painting(tmp_path / "large.jpg", 4, size=(3000, 2000)),
    ]
    sixteen = tmp_path / "sixteen.png"
    Image.fromarray((np.arange(200 * 100, dtype=np.uint16).reshape(100, 200) * 3).astype(np.uint16)).save(
        sixteen
    )
    files.append(sixteen)
    for path in files:
        thumbnail = make_thumbnail(path)
        assert thumbnail.error is None, (path, thumbnail.error)
        assert thumbnail.src is not None and max(thumbnail.width, thumbnail.height) <= 160
    large = make_thumbnail(files[3], 400)
    assert (large.width, large.height) == (400, 267)


def test_names_and_artists_are_escaped_everywhere(tmp_path: Path) -> None:
    script = _painting(tmp_path / "<script>.jpg", 5)
    artist = '"&<>'
    neighbours = [Neighbour(script.name, 0.8, artist=artist, probability=0.9, file=script)]
    votes = [ArtistVote(artist, 0.8, 1.0)]
    similar = similar_report(
        [SimilarQuery(script, '<b onload="x">q', neighbours, votes)], tmp_path / "s.html"
    )
    verify = verify_report(script, script, 0.8, 0.9, 0.5, (6.0, -2.0), tmp_path / "v.html")
    labels, scores = np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6])
    evaluation = evaluation_report(
        labels,
        scores,
        tmp_path / "e.html",
        baselines={"<script>alert(1)</script>": (labels, scores[::-1])},
        per_artist_auc={artist: 0.5},
        mistakes=[PairExample(script, script, False, 0.6, artist, artist)],
        model_name="<i>m</i>",
        title="<title>",
    )
    for out in (similar, verify, evaluation):
        text, page = _read(out)
        _assert_self_contained(text, page)
        tags = {e["tag"] for e in page.elements}
        assert not tags & {"script", "b", "i"}, tags
        assert "<script>.jpg" in page.text()  # shown as text, once the parser has unescaped it
        assert "&lt;script&gt;.jpg" in text
        assert "<script>" not in text
    for out in (similar, evaluation):
        text, page = _read(out)
        assert artist in page.text()
        assert "&quot;&amp;&lt;&gt;" in text
    # Attributes (title, alt, aria-label) hold the name whole, quotes included.
    _, page = _read(similar)
    assert {i["attrs"]["alt"] for i in page.find("img")} == {'<b onload="x">q', "<script>.jpg"}
    assert str(script) in {f["attrs"].get("title") for f in page.find("figure")}


def test_render_escapes_all_but_markup() -> None:
    assert render.render("empty", text="<b>&") == '<p class="empty">&lt;b&gt;&amp;</p>'
    assert render.render("empty", text=render.Markup("<b>ok</b>")) == '<p class="empty"><b>ok</b></p>'
    with pytest.raises(KeyError, match="no block 'nope'"):
        render.render("nope")
    with pytest.raises(KeyError):
        render.render("empty")  # a placeholder without a value is an error, not an empty string


def test_verify_report_shows_the_pair_the_verdict_and_the_curve(tmp_path: Path) -> None:
    a, b = _painting(tmp_path / "a.jpg", 1, size=(600, 450)), _painting(tmp_path / "b.png", 2)
    out = verify_report(a, b, 0.6123, 0.8712, 0.45, (8.0, -3.0), tmp_path / "v.html")
    text, page = _read(out)
    _assert_self_contained(text, page)
    assert len(page.find("img")) == 2
    assert int(page.find("img")[0]["attrs"]["width"]) == 400
    verdict = page.find("div", "verdict")[0]
    assert "Same artist" in verdict["text"] and "0.871" in verdict["text"]
    assert float(verdict["attrs"]["data-probability"]) == pytest.approx(0.8712)
    assert page.find("td", "similarity")[0]["text"] == "0.6123"
    assert page.find("td", "threshold")[0]["text"] == "0.4500"
    curve = [svg for svg in page.find("svg") if "Calibration curve" in svg["text"]]
    assert len(curve) == 1 and "this pair: likeness 0.6123" in curve[0]["text"]
    expected_p = 1 / (1 + np.exp(-(8.0 * 0.6123 - 3.0)))
    assert f"P(same artist) {expected_p:.3f}" in curve[0]["text"]
    assert len(page.find("circle")) == 1

    _, below = _read(verify_report(a, b, 0.3, 0.2, 0.45, (8.0, -3.0), tmp_path / "v2.html"))
    assert "Different artists" in below.find("div", "verdict")[0]["text"]
    with pytest.raises(ValueError, match="probability"):
        verify_report(a, b, 0.3, 1.2, 0.45, (8.0, -3.0), tmp_path / "v3.html")


def _scored_pairs(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.25).astype(int)
    scores = np.where(labels == 1, rng.normal(0.55, 0.2, n), rng.normal(0.15, 0.2, n))
    return labels, scores


def test_evaluation_report_plots_and_tables(tmp_path: Path) -> None:
    labels, scores = _scored_pairs()
    rng = np.random.default_rng(1)
    colour = scores + rng.normal(0, 0.4, scores.size)
    different, same = confident_mistakes(labels, scores, 3, threshold=0.35)
    pairs = [
        PairExample(
            _painting(tmp_path / f"{i}a.jpg", i),
            _painting(tmp_path / f"{i}b.jpg", 100_000 + i),
            bool(labels[i]),
            float(scores[i]),
            "A",
            "B" if not labels[i] else "A",
        )
        for i in [*same.tolist(), *different.tolist()]
    ]
    out = evaluation_report(
        labels,
        scores,
        tmp_path / "e.html",
        baselines={"colour histogram": (labels, colour)},
        calibration=(7.0, -2.5),
        threshold=0.35,
        per_artist_auc={"Monet": 0.81, "Degas": 0.62, "Goya": None, "Turner": 0.7},
        mistakes=pairs,
    )
    text, page = _read(out)
    _assert_self_contained(text, page)
    svgs = {svg["children_title"]: svg for svg in _svgs(page)}
    roc = svgs["ROC curve"]["text"]
    assert f"model (AUC {roc_auc(labels, scores):.4f})" in roc
    assert f"colour histogram (AUC {roc_auc(labels, colour):.4f})" in roc
    assert "Reliability diagram" in svgs
    predicted, observed, counts = reliability_bins(1 / (1 + np.exp(-(7.0 * scores - 2.5))), labels)
    assert f"{expected_calibration_error(predicted, observed, counts):.4f}" in page.text()
    histogram = svgs["Similarity of same-artist and different-artist pairs"]["text"]
    assert f"same artist ({labels.sum():,} pairs)" in histogram and "threshold 0.3500" in histogram
    # Per-artist AUC, worst first, the one without an AUC last.
    rows = [(r["text"], a["text"]) for r, a in zip(page.find("td", "artist"), page.find("td", "auc"))]
    assert rows == [("Degas", "0.6200"), ("Turner", "0.7000"), ("Monet", "0.8100"), ("Goya", "n/a")]
    # Mistakes: different-artist pairs highest score first, then same-artist pairs lowest first.
    shown = page.find("figure", "mistake")
    assert len(shown) == 6 and len(page.find("img")) == 12
    assert [f["attrs"]["data-same-artist"] for f in shown] == ["false"] * 3 + ["true"] * 3
    shown_scores = [float(f["attrs"]["data-similarity"]) for f in shown]
    assert shown_scores == pytest.approx(
        [*np.sort(scores[different])[::-1], *np.sort(scores[same])], abs=5e-7
    )
    for figure, score in zip(shown, shown_scores):
        assert f"similarity {score:.4f}" in figure["text"]
        assert f"P(same) {1 / (1 + np.exp(-(7.0 * score - 2.5))):.3f}" in figure["text"]


def _svgs(page: Page) -> list[dict]:
    """Each <svg> with the text of its first <title> as ``children_title``."""
    svgs = []
    for i, element in enumerate(page.elements):
        if element["tag"] == "svg":
            title = next(e for e in page.elements[i + 1 :] if e["tag"] == "title")
            svgs.append({**element, "children_title": title["text"]})
    return svgs


def test_evaluation_report_without_calibration_or_extras(tmp_path: Path) -> None:
    labels, scores = _scored_pairs(200)
    text, page = _read(evaluation_report(labels, scores, tmp_path / "e.html"))
    _assert_self_contained(text, page)
    assert "No calibration given" in page.text() and "No per-artist AUC given" in page.text()
    assert [s["children_title"] for s in _svgs(page)] == [
        "ROC curve",
        "Similarity of same-artist and different-artist pairs",
    ]
    with pytest.raises(ValueError, match="both"):
        evaluation_report(np.ones(5), scores[:5], tmp_path / "one-kind.html")
    with pytest.raises(ValueError, match="baseline 'short'"):
        evaluation_report(labels, scores, tmp_path / "b.html", baselines={"short": (labels[:3], scores)})


def test_confident_mistakes_match_a_plain_loop() -> None:
    labels, scores = _scored_pairs(500, seed=4)
    different, same = confident_mistakes(labels, scores, 5)
    negatives = sorted((i for i in range(500) if not labels[i]), key=lambda i: -scores[i])
    positives = sorted((i for i in range(500) if labels[i]), key=lambda i: scores[i])
    assert different.tolist() == negatives[:5] and same.tolist() == positives[:5]
    different, same = confident_mistakes(labels, scores, 1000, threshold=0.35)
    assert different.tolist() == [i for i in negatives if scores[i] >= 0.35]
    assert same.tolist() == [i for i in positives if scores[i] < 0.35]


def test_roc_of_a_million_pairs_stays_a_small_drawing(tmp_path: Path) -> None:
    labels, scores = _scored_pairs(1_000_000, seed=2)
    out = evaluation_report(labels, scores, tmp_path / "e.html")
    assert out.stat().st_size < 200_000


def test_a_thousand_thumbnails_stay_within_a_few_megabytes(tmp_path: Path) -> None:
    # 100 queries of 9 neighbours: 1,000 inlined images. Each <img> carries its own copy of the
    # data, so a page made of 100 distinct files repeated is as large as one of 1,000 files.
    files = [_painting(tmp_path / f"{i}.jpg", i, size=(320, 240)) for i in range(100)]
    large = [_painting(tmp_path / f"q{i}.jpg", 50_000 + i, size=(640, 480)) for i in range(20)]
    queries = [
        SimilarQuery(
            large[q % 20],
            f"q{q}",
            [
                Neighbour(f"{q}-{i}.jpg", 0.9 - i / 20, "Monet", 0.8, files[(q * 9 + i) % 100])
                for i in range(9)
            ],
        )
        for q in range(100)
    ]
    out = similar_report(queries, tmp_path / "big.html")
    _, page = _read(out)
    assert len(page.find("img")) == 1000
    assert out.stat().st_size < 4_500_000, out.stat().st_size
    thumb, query_side = image_sides(900, 100)
    assert thumb == 96 and query_side == 205
    assert int(page.find("img")[1]["attrs"]["width"]) == thumb
    assert int(page.find("img")[0]["attrs"]["width"]) == query_side


def test_image_sides_shrink_only_large_pages() -> None:
    assert image_sides(10, 1) == (160, 400)
    assert image_sides(400, 0) == (160, 400)
    assert image_sides(800, 0)[0] == 113  # half the area each: sides / sqrt(2)
    assert image_sides(1600, 0)[0] == 96  # the floor


def test_written_atomically(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")
    similar_report([], out)
    assert "No queries." in out.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    with pytest.raises(OutputError, match="does not exist"):
        similar_report([], tmp_path / "missing" / "r.html")


def test_template_ships_as_package_data() -> None:
    template = resources.files("painter_match.evaluation").joinpath("templates").joinpath("report.html")
    assert template.is_file()
    assert {"page", "image", "placeholder", "neighbour", "verify", "evaluation"} <= set(render.blocks())
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = config["options.package_data"]["painter_match"].split()
    assert any(fnmatch.fnmatch("evaluation/templates/report.html", p) for p in patterns)


def test_reports_need_neither_onnxruntime_nor_torch() -> None:
    code = (
        "import sys, painter_match.evaluation.html_report; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'onnxruntime', 'torch', 'matplotlib', 'pandas'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
