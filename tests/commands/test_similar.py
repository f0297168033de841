"""`painter-match similar` on a tiny hand-built ONNX model: neighbours with labels, and a query
from outside the embeddings file embedded with the same model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_kit import one_line_error as _one_line_error
from cli_kit import run as _run

from painter_match.cli import main

# --- similar ------------------------------------------------------------------------------------


@pytest.fixture()
def embedded(images: Path, models: dict[str, Path], tmp_path: Path) -> Path:
    out = tmp_path / "e.npz"
    assert main(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "-q"]) == 0
    return out


def test_similar_with_labels(
    synth_dir: Path, images: Path, embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = sorted(p.name for p in images.iterdir())[0]
    argv = ["similar", query, "--embeddings", str(embedded), "-k", "5", "--json"]
    code, stdout, _ = _run([*argv, "--labels", str(synth_dir / "all_data_info.csv")], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["query_in_embeddings"] is True and len(result["neighbours"]) == 5
    assert query not in [n["path"] for n in result["neighbours"]]
    similarities = [n["similarity"] for n in result["neighbours"]]
    assert similarities == sorted(similarities, reverse=True)
    # all_data_info names are bare file names, found by name; every neighbour is labelled.
    assert result["labelled_neighbours"] == 5
    shares = [a["share"] for a in result["artists"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1.0, abs=1e-5)
    # A folder works as labels too (paths test/NAME, matched by file name).
    code, stdout, _ = _run([*argv, "--labels", str(synth_dir)], capsys)
    assert code == 0 and json.loads(stdout)["artists"] == result["artists"]
    code, stdout, _ = _run(
        ["similar", query, "--embeddings", str(embedded), "--labels", str(synth_dir)], capsys
    )
    assert code == 0 and "most likely artists" in stdout


def test_similar_embeds_an_outside_image_with_the_same_model(
    images: Path, embedded: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "query.jpg"
    first = sorted(images.iterdir())[0]
    shutil.copy(first, outside)
    argv = ["similar", str(outside), "--embeddings", str(embedded), "-k", "3", "--json"]
    code, stdout, _ = _run([*argv, "-m", str(models["a"])], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["query_in_embeddings"] is False
    assert result["neighbours"][0]["path"] == first.name  # its twin
    assert result["neighbours"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    code, _, err = _run([*argv, "-m", str(models["b"])], capsys)
    assert code == 1 and "same model" in _one_line_error(err)
    code, _, err = _run(["similar", "nope.jpg", "--embeddings", str(embedded)], capsys)
    assert code == 1 and "nope.jpg" in _one_line_error(err)
