"""The collection adaptation in use: score, similar, verify and evaluate centre on the collection when
the model says so, record what they did, fall back below the minimum, and ignore the rows' order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from onnx_models import tiny_info, write_tiny_model
from PIL import Image

import painter_match
from painter_match.cli import main
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import MIN_COLLECTION, CollectionPolicy, centre_on, collection_mean

CENTRED = Calibration(slope=5.0, intercept=-1.0, threshold=0.2, positive_share=0.5, pairs=50)


def _painting(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, 3)
    pixels = np.clip(base + rng.normal(0, 30 + seed % 5 * 10, (36, 44, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture()
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """24 paintings, every pair of them listed, and a tiny model that asks for centring."""
    scans = tmp_path / "scans"
    scans.mkdir()
    for i in range(24):
        _painting(scans / f"p{i:02d}.png", seed=i)
    names = sorted(p.name for p in scans.iterdir())
    rows = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    pd.DataFrame(
        {"index": range(len(rows)), "image1": [a for a, _ in rows], "image2": [b for _, b in rows]}
    ).to_csv(tmp_path / "pairs.csv", index=False)
    info = tiny_info()
    from dataclasses import replace

    info = replace(info, collection=CollectionPolicy("centre", MIN_COLLECTION, CENTRED))
    monkeypatch.setenv("PAINTER_MATCH_MODEL", str(write_tiny_model(tmp_path / "tiny.onnx", info=info)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _expected(place: Path, embeddings: Path, centred: bool) -> np.ndarray:
    loaded = painter_match.load_embeddings(embeddings)
    vectors = loaded.vectors
    calibration = loaded.source.info.calibration
    if centred:
        vectors = centre_on(vectors, collection_mean(vectors))
        calibration = CENTRED
    row = {Path(p).name: i for i, p in enumerate(loaded.paths)}
    pairs = pd.read_csv(place / "pairs.csv")
    a = vectors[[row[n] for n in pairs["image1"]]]
    b = vectors[[row[n] for n in pairs["image2"]]]
    return calibration.probability((a * b).sum(axis=1))


def test_score_centres_on_the_collection_with_the_centred_calibration(place: Path) -> None:
    assert main(["embed", "scans", "-o", "emb.npz", "-q"]) == 0
    summary = painter_match.score_pairs("pairs.csv", "auto.csv", "emb.npz")
    assert summary.collection == {"method": "centre", "paintings": 24}
    written = pd.read_csv("auto.csv")["sameArtist"].to_numpy()
    np.testing.assert_allclose(written, _expected(place, place / "emb.npz", centred=True), atol=2e-6)
    plain = painter_match.score_pairs("pairs.csv", "none.csv", "emb.npz", collection="none")
    assert plain.collection is not None and plain.collection["method"] == "none"
    np.testing.assert_allclose(
        pd.read_csv("none.csv")["sameArtist"].to_numpy(),
        _expected(place, place / "emb.npz", centred=False),
        atol=2e-6,
    )
    assert not np.allclose(written, pd.read_csv("none.csv")["sameArtist"].to_numpy(), atol=1e-3)


def test_the_cli_records_the_adaptation_and_images_give_the_same_scores(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["embed", "scans", "-o", "emb.npz", "-q"]) == 0
    capsys.readouterr()
    assert main(["score", "pairs.csv", "--embeddings", "emb.npz", "-o", "a.csv", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["collection"] == {"method": "centre", "paintings": 24}
    assert main(["score", "pairs.csv", "--images", "scans", "-o", "b.csv", "-q"]) == 0
    np.testing.assert_allclose(
        pd.read_csv("a.csv")["sameArtist"], pd.read_csv("b.csv")["sameArtist"], atol=2e-5
    )


def test_a_small_collection_falls_back_to_plain_cosines_and_says_why(place: Path) -> None:
    for extra in sorted((place / "scans").iterdir())[MIN_COLLECTION - 2 :]:
        extra.unlink()
    assert main(["embed", "scans", "-o", "emb.npz", "-q"]) == 0
    pairs = pd.read_csv("pairs.csv")
    names = {p.name for p in (place / "scans").iterdir()}
    pairs[pairs["image1"].isin(names) & pairs["image2"].isin(names)].to_csv("small.csv", index=False)
    summary = painter_match.score_pairs("small.csv", "out.csv", "emb.npz")
    assert summary.collection is not None
    assert summary.collection["method"] == "none" and "fewer than" in str(summary.collection["reason"])


def test_the_order_of_the_embeddings_does_not_change_a_score(place: Path) -> None:
    assert main(["embed", "scans", "-o", "emb.npz", "-q"]) == 0
    loaded = painter_match.load_embeddings("emb.npz")
    order = np.random.default_rng(0).permutation(len(loaded))
    names, vectors = [Path(loaded.paths[i]).name for i in order], loaded.vectors[order]
    straight = [Path(p).name for p in loaded.paths]
    model = painter_match.load()
    one = painter_match.score_pairs(
        "pairs.csv",
        "one.csv",
        names=straight,
        vectors=loaded.vectors,
        calibration=model.info.calibration,
        model=model,
    )
    two = painter_match.score_pairs(
        "pairs.csv", "two.csv", names=names, vectors=vectors, calibration=model.info.calibration, model=model
    )
    assert one.collection == two.collection == {"method": "centre", "paintings": 24}
    assert Path("one.csv").read_bytes() == Path("two.csv").read_bytes()


def test_similar_and_verify_record_what_they_did(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "scans", "-o", "emb.npz", "-q"]) == 0
    capsys.readouterr()
    assert main(["similar", "scans/p00.png", "--embeddings", "emb.npz", "-k", "3", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["collection"] == {"method": "centre", "paintings": 24}
    assert main(["verify", "scans/p00.png", "scans/p01.png", "--json", "-q"]) == 0
    lone = json.loads(capsys.readouterr().out)
    assert lone["collection"]["method"] == "none" and "lone" in lone["collection"]["reason"]
    assert main(["verify", "scans/p00.png", "scans/p01.png", "--collection", "emb.npz", "--json", "-q"]) == 0
    within = json.loads(capsys.readouterr().out)
    assert within["collection"] == {"method": "centre", "paintings": 24}
    loaded = painter_match.load_embeddings("emb.npz")
    row = {Path(p).name: i for i, p in enumerate(loaded.paths)}
    centred = centre_on(loaded.vectors, collection_mean(loaded.vectors))
    cosine = float(centred[row["p00.png"]] @ centred[row["p01.png"]])
    assert within["similarity"] == pytest.approx(cosine, abs=1e-5)
    assert within["probability"] == pytest.approx(float(CENTRED.probability(cosine)), abs=1e-5)


def test_evaluate_centres_on_the_paintings_evaluated_and_reports_the_verdicts(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    info = replace(tiny_info(), collection=CollectionPolicy("centre", MIN_COLLECTION, CENTRED))
    model = write_tiny_model(tmp_path / "tiny.onnx", info=info)
    reports = {}
    for choice in ("auto", "none"):
        argv = [
            "evaluate",
            str(model),
            str(synth_dir),
            "--no-baseline",
            "--collection",
            choice,
            "--json",
            "-q",
        ]
        assert main(argv) == 0
        reports[choice] = json.loads(capsys.readouterr().out)
    assert reports["auto"]["collection"]["method"] == "centre"
    assert reports["auto"]["collection"]["paintings"] >= MIN_COLLECTION
    assert reports["none"]["collection"]["method"] == "none"
    assert reports["auto"]["roc_auc"] != pytest.approx(reports["none"]["roc_auc"], abs=1e-9)
    check = reports["auto"]["calibration_check"]
    assert 0.0 <= check["different_called_same"] <= 1.0 and 0.0 <= check["same_called_same"] <= 1.0
    assert check["accuracy_all_different"] == pytest.approx(1.0 - reports["auto"]["same_artist_share"])


def test_centring_with_a_reference_is_a_usage_error(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "scans", "-o", "emb.npz", "-q"]) == 0
    labels = place / "labels.csv"
    names = sorted(p.name for p in (place / "scans").iterdir())
    pd.DataFrame({"filename": names, "artist": [f"artist{i // 4}" for i in range(len(names))]}).to_csv(
        labels, index=False
    )
    assert main(["reference", "emb.npz", "--labels", str(labels), "-o", "ref.npz", "-q"]) == 0
    capsys.readouterr()
    argv = ["score", "pairs.csv", "--embeddings", "emb.npz", "--reference", "ref.npz", "-o", "out.csv", "-q"]
    assert main([*argv, "--collection", "centre"]) == 2
    assert "--collection centre cannot be combined with a reference" in capsys.readouterr().err
    assert not (place / "out.csv").exists()
    assert (
        main(
            ["verify", "scans/p00.png", "scans/p01.png", "--reference", "ref.npz", "--collection", "emb.npz"]
        )
        == 2
    )
    assert "give --reference or --collection, not both" in capsys.readouterr().err
    # auto with a reference: the reference's pair model, plain cosines, said so.
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["collection"]["reason"] == "scored with a reference"
