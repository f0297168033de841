"""The trainer on tiny synthetic data: it learns, resumes exactly, keeps artists apart, skips bad
images, detects collapse, refuses bad checkpoints, and runs as two gloo processes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the [train] extra (torch)")

from tiny_training import tiny_config  # noqa: E402

from painter_match.errors import DataError, PainterMatchError  # noqa: E402
from painter_match.train import run_setup  # noqa: E402
from painter_match.train.checkpoint import Checkpoint, CheckpointError  # noqa: E402
from painter_match.train.trainer import (  # noqa: E402
    CollapseError,
    mean_pairwise_cosine,
    train,
)


def test_loss_goes_down_and_outputs_are_written(synth_dir: Path, tmp_path: Path) -> None:
    result = train(tiny_config(synth_dir, tmp_path / "run", epochs=6, augment=(), warmup_epochs=0))
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.8 * losses[0]
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert {"epoch", "train_loss", "val_auc", "val_accuracy", "seconds"} <= set(rows[0])
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = Checkpoint.load(run / "best.pt")
    assert best.epoch == result.best_epoch
    assert best.val_auc == pytest.approx(result.best_val_auc)
    assert 0.0 <= best.calibration.threshold <= 1.0
    assert len(best.data_fingerprint) == 16


def test_split_is_artist_disjoint_and_bad_images_are_skipped(synth_dir: Path, tmp_path: Path) -> None:
    # Six synthetic painters, each with a corrupt file beside its paintings, so the validation
    # artists' ones are certainly met (each epoch embeds every validation painting): an empty
    # report fails rather than passes.
    from painter_match.data.catalogue import read_catalogue

    paintings = read_catalogue(synth_dir, subset="train").paintings
    data = tmp_path / "data"
    artists = sorted(set(paintings["artist"]))[:6]
    for k, artist in enumerate(artists):
        folder = data / f"artist_{k}"
        folder.mkdir(parents=True)
        for path in paintings.loc[paintings["artist"] == artist, "path"]:
            if not path.endswith("87055.jpg"):  # the fixture's own corrupt training file
                shutil.copy(synth_dir / path, folder / Path(path).name)
        (folder / "bad.jpg").write_bytes(b"not an image")
    result = train(tiny_config(data, tmp_path / "run", epochs=1))
    state = Checkpoint.load(tmp_path / "run" / "last.pt")
    assert state.train_artists and state.val_artists
    assert not set(state.train_artists) & set(state.val_artists)
    corrupt = {f"artist_{k}/bad.jpg" for k in range(len(artists))}
    reported = set(state.skipped)
    assert {f"{artist}/bad.jpg" for artist in state.val_artists} <= reported <= corrupt
    assert result.skipped_images == len(reported)
    skipped_csv = (tmp_path / "run" / "skipped_images.csv").read_text(encoding="utf-8").splitlines()
    assert skipped_csv[0] == "path,cause" and {line.split(",")[0] for line in skipped_csv[1:]} == reported


def test_resume_continues_exactly(synth_dir: Path, tmp_path: Path) -> None:
    straight = train(tiny_config(synth_dir, tmp_path / "straight", epochs=2))
    train(tiny_config(synth_dir, tmp_path / "resumed", epochs=1))
    resumed = train(tiny_config(synth_dir, tmp_path / "resumed", epochs=2), resume=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    a = Checkpoint.load(tmp_path / "straight" / "last.pt").encoder
    b = Checkpoint.load(tmp_path / "resumed" / "last.pt").encoder
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-6), name
    assert resumed.history[-1]["val_auc"] == pytest.approx(straight.history[-1]["val_auc"], abs=1e-6)


def test_existing_run_needs_resume_and_missing_run_cannot_resume(synth_dir: Path, tmp_path: Path) -> None:
    train(tiny_config(synth_dir, tmp_path / "run", epochs=1))
    with pytest.raises(PainterMatchError, match="--resume"):
        train(tiny_config(synth_dir, tmp_path / "run", epochs=1))
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        train(tiny_config(synth_dir, tmp_path / "other", epochs=1), resume=True)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        Checkpoint.load(bad)
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(CheckpointError, match="not a painter-match checkpoint"):
        Checkpoint.load(bad)


def test_checkpoint_of_another_backbone_is_refused(synth_dir: Path, tmp_path: Path) -> None:
    from painter_match.train.backbones import build_encoder
    from painter_match.train.checkpoint import load_state_strict

    train(tiny_config(synth_dir, tmp_path / "run", epochs=1))
    state = Checkpoint.load(tmp_path / "run" / "last.pt")
    other = build_encoder("resnet18", embedding_dim=32, input_size=32)
    with pytest.raises(CheckpointError, match="another --backbone"):
        load_state_strict(other, state.encoder, "encoder", tmp_path / "run" / "last.pt")


def test_collapse_detector() -> None:
    same = np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (10, 1))
    assert mean_pairwise_cosine(same) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(200, 64))
    spread /= np.linalg.norm(spread, axis=1, keepdims=True)
    assert abs(mean_pairwise_cosine(spread)) < 0.05


def test_collapse_stops_training(synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_build = run_setup.build_encoder  # set-up builds the encoder

    def collapsed_encoder(*args: object, **kwargs: object) -> torch.nn.Module:
        encoder = real_build(*args, **kwargs)  # type: ignore[arg-type]
        for module in encoder.head.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.zeros_(module.weight)
                torch.nn.init.ones_(module.bias)
                module.requires_grad_(False)
        return encoder

    monkeypatch.setattr(run_setup, "build_encoder", collapsed_encoder)
    with pytest.raises(CollapseError, match="embedding collapse at epoch 1"):
        train(tiny_config(synth_dir, tmp_path / "run", epochs=3))


def test_too_few_artists(tmp_path: Path) -> None:
    from PIL import Image

    for artist in ("a", "b"):
        (tmp_path / "data" / artist).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 40), (i * 40, 0, 0)).save(tmp_path / "data" / artist / f"{i}.png")
    with pytest.raises(DataError, match="at least 3 artists"):
        train(tiny_config(tmp_path / "data", tmp_path / "run"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_process_gloo_run(synth_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        "-m", "painter_match", "train", str(synth_dir), "-o", str(run),
        "--epochs", "1", "--input-size", "32", "--embedding-dim", "16", "--workers", "1",
        "--artists-per-batch", "2", "--paintings-per-artist", "2", "--val-fraction", "0.3",
        "--device", "cpu", "--json", "--quiet",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)  # one document: only the first process prints
    assert result["world_size"] == 2
    assert (run / "last.pt").is_file() and (run / "metrics.jsonl").is_file()
    assert Checkpoint.load(run / "last.pt").epoch == 1


def test_collapse_rules() -> None:
    from painter_match.inference.calibration import Calibration
    from painter_match.train.trainer import _Validation, is_collapsed

    def validation(auc: float, mean_cosine: float, score_std: float) -> _Validation:
        return _Validation(auc, 0.5, mean_cosine, score_std, Calibration(1.0, 0.0, 0.5, 0.5, 10), [])

    assert is_collapsed(validation(0.9, 0.5, 0.0), epoch=1)  # every pair scores the same
    assert not is_collapsed(validation(0.52, 0.9995, 0.01), epoch=2)  # untrained-looking: give it time
    assert is_collapsed(validation(0.52, 0.9995, 0.01), epoch=3)  # still one point, still no signal
    assert not is_collapsed(validation(0.75, 0.9995, 0.01), epoch=5)  # tight but informative
