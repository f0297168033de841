"""Fine-tuning a pretrained backbone: a slower backbone learning rate, and BatchNorm kept frozen."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="training needs the [train] extra (torch)")

from tiny_training import tiny_config  # noqa: E402

from painter_match.cli import main  # noqa: E402
from painter_match.train.backbones import build_encoder, freeze_backbone  # noqa: E402
from painter_match.train.checkpoint import Checkpoint  # noqa: E402
from painter_match.train.trainer import train  # noqa: E402


def test_backbone_learns_at_its_share_of_the_rate(synth_dir: Path, tmp_path: Path) -> None:
    train(tiny_config(synth_dir, tmp_path / "run", epochs=1, backbone_lr_scale=0.1))
    groups = Checkpoint.load(tmp_path / "run" / "last.pt").optimizer["param_groups"]
    assert len(groups) == 2
    head, backbone = groups
    assert backbone["lr"] == pytest.approx(0.1 * head["lr"])  # the schedule scales both alike
    encoder = Checkpoint.load(tmp_path / "run" / "last.pt").restore_encoder()
    assert len(backbone["params"]) == len(list(encoder.backbone.parameters()))


def test_the_default_keeps_one_group_as_older_runs_have(synth_dir: Path, tmp_path: Path) -> None:
    train(tiny_config(synth_dir, tmp_path / "run", epochs=1))
    assert len(Checkpoint.load(tmp_path / "run" / "last.pt").optimizer["param_groups"]) == 1


def test_frozen_batchnorm_keeps_its_statistics_while_the_convolutions_learn() -> None:
    torch.manual_seed(0)
    encoder = build_encoder("efficientnet_lite0", embedding_dim=8, input_size=32, features="style")
    freeze_backbone(encoder, "none", batchnorm=True)
    norms = [m for m in encoder.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    convs = [m for m in encoder.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert norms and all(not p.requires_grad for m in norms for p in m.parameters())
    assert all(p.requires_grad for m in convs for p in m.parameters())
    before_stats = [m.running_mean.clone() for m in norms]
    before_conv = convs[0].weight.detach().clone()
    encoder.train()
    assert all(not m.training for m in norms)  # in eval mode: running statistics are not updated
    optimizer = torch.optim.SGD([p for p in encoder.parameters() if p.requires_grad], lr=0.1)
    encoder(torch.rand(4, 3, 32, 32)).sum().backward()
    optimizer.step()
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before_stats, norms))
    assert not torch.equal(before_conv, convs[0].weight)


def test_a_backbone_rate_outside_its_range_is_a_one_line_error(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", str(synth_dir), "-o", str(tmp_path / "run"), "--backbone-lr-scale", "0"])
    assert code == 1  # a bad value of an option, as every training setting's
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "backbone_lr_scale must lie in (0, 1], got 0.0" in err[0]
