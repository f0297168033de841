"""Tests for the encoders: shapes and unit norms, config round trips, and ImageNet weights offline."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.error import URLError

import pytest

pytest.importorskip("torch", reason="the training encoders need the [train] extra (torch)")
pytest.importorskip("torchvision", reason="the training encoders need the [train] extra (torchvision)")

import torch
import torchvision

from painter_match.errors import PainterMatchError
from painter_match.train.backbones import (
    BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Encoder,
    build_encoder,
    encoder_config,
    encoder_from_config,
    imagenet_weights_path,
)

RESNET18_FILE = "resnet18-f37072fd.pth"


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub under $TORCH_HOME = tmp_path, with downloading made to fail."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    # No torch.hub.set_dir() override, so get_dir() follows $TORCH_HOME; restored after the test.
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        raise URLError("network disabled in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _images(n: int, size: int) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(size))


@pytest.mark.parametrize(
    ("backbone", "batch", "sizes"),
    [("compact", 3, (64, 96)), ("resnet18", 2, (64, 96)), ("resnet34", 2, (64, 96)), ("resnet50", 2, (64,))],
)
def test_encoder_outputs_unit_embeddings(backbone: str, batch: int, sizes: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(backbone, embedding_dim=32, input_size=64).eval()
    assert isinstance(encoder, Encoder)
    assert (encoder.backbone_name, encoder.embedding_dim, encoder.input_size) == (backbone, 32, 64)
    with torch.no_grad():
        for size in sizes:
            out = encoder(_images(batch, size))
            assert out.shape == (batch, 32)
            assert out.dtype == torch.float32
            assert torch.allclose(out.norm(dim=1), torch.ones(batch), atol=1e-5)
            assert encoder.features(_images(batch, size)).shape == (batch, encoder.feature_dim)


def test_compact_trains_and_is_small() -> None:
    torch.manual_seed(0)
    encoder = build_encoder("compact", embedding_dim=64, dropout=0.2)
    assert sum(p.numel() for p in encoder.parameters()) < 3_000_000
    assert encoder.feature_dim == 2 * (32 + 64 + 128 + 256)  # mean and std of every block
    out = encoder(_images(4, 64))  # training mode: BatchNorm uses batch statistics
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


def test_style_statistics_are_channel_mean_and_std() -> None:
    from painter_match.train.backbones import channel_statistics

    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    stats = channel_statistics(x)
    assert stats.shape == (2, 6)
    for n in range(2):
        for c in range(3):
            values = x[n, c].flatten()
            assert stats[n, c] == pytest.approx(float(values.mean()))
            assert stats[n, 3 + c] == pytest.approx(float(values.std(unbiased=False)), rel=1e-4)


def test_encoder_normalises_its_input() -> None:
    torch.manual_seed(0)
    encoder = build_encoder("compact", embedding_dim=16).eval()
    assert torch.allclose(encoder.mean.flatten(), torch.tensor(IMAGENET_MEAN))
    assert torch.allclose(encoder.std.flatten(), torch.tensor(IMAGENET_STD))
    x = _images(2, 64)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(encoder.features(x), encoder.backbone((x - mean) / std), atol=1e-6)


def test_compact_ignores_each_photograph_s_exposure_and_white_balance() -> None:
    torch.manual_seed(0)
    encoder = build_encoder("compact", embedding_dim=16, input_size=48).eval()
    images = torch.rand(3, 3, 48, 48) * 0.6 + 0.2
    # Per-channel gain and offset, as a darker, bluer photograph of the same painting.
    gain = torch.tensor([0.7, 0.8, 1.2]).view(1, 3, 1, 1)
    offset = torch.tensor([-0.1, 0.0, 0.05]).view(1, 3, 1, 1)
    with torch.no_grad():
        same = encoder(images)
        relit = encoder(images * gain + offset)
        other = encoder(torch.rand(3, 3, 48, 48))
    assert torch.allclose(same, relit, atol=1e-3)
    assert not torch.allclose(same, other, atol=1e-2)


def test_encoder_rejects_bad_images() -> None:
    encoder = build_encoder("compact", embedding_dim=16).eval()
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        encoder(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        encoder(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match=r"float images"):
        encoder(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_build_encoder_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="compact, resnet18, resnet34, resnet50"):
        build_encoder("vgg16")
    with pytest.raises(ValueError, match="embedding_dim"):
        build_encoder("compact", embedding_dim=0)
    with pytest.raises(ValueError, match="input_size"):
        build_encoder("compact", input_size=16)
    with pytest.raises(ValueError, match="dropout"):
        build_encoder("compact", dropout=1.0)
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_encoder("compact", pretrained=True)


@pytest.mark.parametrize("backbone", ["compact", "resnet18"])
def test_config_round_trip_restores_the_architecture(backbone: str) -> None:
    torch.manual_seed(0)
    # Trained with dropout, restored without: the state-dict keys must not depend on it.
    encoder = build_encoder(backbone, embedding_dim=24, input_size=96, dropout=0.3).eval()
    config = json.loads(json.dumps(encoder_config(encoder)))
    assert config == {
        "backbone": backbone,
        "embedding_dim": 24,
        "input_size": 96,
        "mean": pytest.approx(list(IMAGENET_MEAN)),
        "std": pytest.approx(list(IMAGENET_STD)),
    }
    restored = encoder_from_config(config)
    restored.load_state_dict(encoder.state_dict(), strict=True)
    restored.eval()
    x = _images(2, 64)
    with torch.no_grad():
        assert torch.allclose(restored(x), encoder(x), atol=1e-6)
    assert encoder_config(restored) == encoder_config(encoder)


def test_config_carries_a_custom_normalisation() -> None:
    config = encoder_config(build_encoder("compact", embedding_dim=8))
    config["mean"], config["std"] = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    restored = encoder_from_config(config)
    assert encoder_config(restored)["mean"] == [0.5, 0.5, 0.5]
    assert encoder_config(restored)["std"] == [0.25, 0.25, 0.25]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"backbone": "vgg16"}, "backbone"),
        ({"embedding_dim": "256"}, "embedding_dim"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"input_size": 8}, "input_size"),
        ({"mean": [0.5, 0.5]}, "mean"),
        ({"std": [0.2, 0.0, 0.2]}, "std"),
        ({"colour": "rgb"}, "colour"),
    ],
)
def test_bad_config_names_the_field(change: dict, field: str) -> None:
    config = {**encoder_config(build_encoder("compact", embedding_dim=8)), **change}
    with pytest.raises(ValueError, match=field):
        encoder_from_config(config)


def test_config_missing_field_is_named() -> None:
    config = encoder_config(build_encoder("compact", embedding_dim=8))
    del config["input_size"]
    with pytest.raises(ValueError, match="input_size"):
        encoder_from_config(config)


def test_weights_path_follows_torch_home(offline_hub: Path) -> None:
    assert imagenet_weights_path("resnet18") == offline_hub / RESNET18_FILE
    with pytest.raises(ValueError, match="compact"):
        imagenet_weights_path("compact")


def test_pretrained_offline_says_what_file_to_place_where(offline_hub: Path) -> None:
    with pytest.raises(PainterMatchError) as info:
        build_encoder("resnet18", pretrained=True)
    message = str(info.value)
    assert "\n" not in message
    assert "could not be fetched" in message
    assert RESNET18_FILE in message
    assert str(offline_hub) in message
    assert "TORCH_HOME" in message
    assert not any(offline_hub.glob("*.pth*"))  # nothing half-written left behind


def test_pretrained_loads_a_placed_file_offline(offline_hub: Path) -> None:
    torch.manual_seed(123)
    reference = torchvision.models.resnet18(weights=None).state_dict()
    offline_hub.mkdir(parents=True)
    # Any content works: torch.hub checks the hash prefix only when it downloads.
    torch.save(reference, offline_hub / RESNET18_FILE)
    torch.manual_seed(0)  # a different seed, so equality below can only come from the file
    encoder = build_encoder("resnet18", embedding_dim=16, pretrained=True)
    loaded = encoder.backbone.state_dict()
    assert "fc.weight" not in loaded  # the classifier is replaced by the head
    for key, value in loaded.items():
        assert torch.equal(value, reference[key]), key
    with torch.no_grad():
        assert encoder.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 16)


def test_pretrained_rejects_a_wrong_file(offline_hub: Path) -> None:
    offline_hub.mkdir(parents=True)
    (offline_hub / RESNET18_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(PainterMatchError, match=RESNET18_FILE) as info:
        build_encoder("resnet18", pretrained=True)
    assert "\n" not in str(info.value)
    torch.save({"conv1.weight": torch.zeros(1)}, offline_hub / RESNET18_FILE)
    with pytest.raises(PainterMatchError, match="does not hold resnet18") as info:
        build_encoder("resnet18", pretrained=True)
    assert "\n" not in str(info.value)


def test_every_backbone_is_listed() -> None:
    assert BACKBONES == (
        "compact",
        "resnet18",
        "resnet34",
        "resnet50",
        "efficientnet_lite0",
        "efficientnet_lite2",
    )


@pytest.mark.parametrize("hidden", [0, 64])
def test_lite_head_width_travels_in_the_config(hidden: int) -> None:
    torch.manual_seed(0)
    encoder = build_encoder("efficientnet_lite0", embedding_dim=16, input_size=64, head_hidden=hidden).eval()
    linears = [m for m in encoder.head.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == (1 if hidden == 0 else 2)
    config = json.loads(json.dumps(encoder_config(encoder)))
    assert config["head_hidden"] == hidden
    restored = encoder_from_config(config).eval()
    restored.load_state_dict(encoder.state_dict(), strict=True)
    x = _images(2, 64)
    with torch.no_grad():
        assert torch.allclose(restored(x), encoder(x), atol=1e-6)
    # A config from before the choice existed has the 512-wide head.
    del config["head_hidden"]
    assert encoder_config(encoder_from_config(config))["head_hidden"] == 512
    with pytest.raises(ValueError, match="head_hidden is for"):
        build_encoder("compact", head_hidden=0)
