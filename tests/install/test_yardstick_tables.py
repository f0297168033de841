"""The tables `make real-folds` and `make real-photographed` print (`bench.yardstick_tables`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import yardstick_tables


def _write(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_the_folds_table_gives_each_fold_and_the_means(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for k, (fp32, int8) in enumerate([(0.91, 0.90), (0.89, 0.87)]):
        baselines = (
            {"imagenet_auc": 0.8123, "colour_histogram_auc": 0.6789} if k == 0 else {"imagenet_auc": None}
        )
        _write(tmp_path / f"real-fold{k}" / "evaluate.json", {"roc_auc": fp32, **baselines})
        _write(tmp_path / f"real-fold{k}" / "evaluate-int8.json", {"roc_auc": int8})
    assert yardstick_tables.main(["folds", "--runs", str(tmp_path), "--folds", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["0", "0.9100", "0.9000", "0.8123", "0.6789"]
    assert lines[2].split() == ["1", "0.8900", "0.8700", "-", "-"]
    assert lines[3].split() == ["mean", "0.9000", "0.8850"]


def test_the_photographed_table_gives_each_strength(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, strength in enumerate(yardstick_tables.STRENGTHS):
        check = {"different_called_same": 0.17 + i / 100, "same_called_same": 0.7 - i / 10}
        _write(
            tmp_path / f"photographed-s{strength}-auto.json",
            {"roc_auc": 0.85 - i / 50, "calibration_check": check},
        )
        _write(tmp_path / f"photographed-s{strength}-none.json", {"roc_auc": 0.84 - i / 50})
    assert yardstick_tables.main(["photographed", "--runs", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["0.25", "0.8500", "0.8400", "17.0%", "/", "70.0%"]
    assert lines[4].split() == ["1.0", "0.7900", "0.7800", "20.0%", "/", "40.0%"]


def test_a_missing_evaluation_says_which_and_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"evaluate\.json: cannot read the evaluation .*run the make target"):
        yardstick_tables.main(["folds", "--runs", str(tmp_path), "--folds", "1"])
