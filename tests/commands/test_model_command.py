"""`painter-match model`: every rule with the file it names, the winner marked, its contract,
figures and terms, and the card's path; the same as JSON; one-line errors for a model that is not there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from painter_match.cli import get_parser, main
from painter_match.inference.model import MODEL_ENV, packaged_model_path
from painter_match.inference.model_report import PACKAGED_TERMS, report

PACKAGED = packaged_model_path()
needs_packaged = pytest.mark.skipif(PACKAGED is None, reason="this install has no packaged model")


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder with no $PAINTER_MATCH_MODEL, as a user with no models of their own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODEL_ENV, raising=False)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@needs_packaged
def test_the_packaged_model_runs_when_no_rule_names_another(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["model"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    rules = lines[1:5]
    assert [line.split()[1] for line in rules] == [
        "-m/--model",
        f"${MODEL_ENV}",
        "./models/painter-match.onnx",
        "the",
    ]
    assert "(not given)" in rules[0] and "(not set)" in rules[1] and "(no such file here)" in rules[2]
    assert rules[3].endswith("<- runs now") and str(PACKAGED) in rules[3]
    assert sum("<- runs now" in line for line in lines) == 1
    # The contract summary: input size, views, embedding size, variant, calibration.
    assert any("input 224 x 224 RGB" in line and "one view" in line for line in lines)
    assert any("1536-number L2-normalised embedding" in line for line in lines)
    assert any("efficientnet_lite0, int8" in line for line in lines)
    assert any(line.strip().startswith("calibration P(same artist) = sigmoid(") for line in lines)
    # Figures: the validation AUCs from the model's metadata and the held-out ones from its card.
    assert any("Validation ROC AUC, fp32 (model metadata)" in line for line in lines)
    assert any("Held-out ROC AUC, int8 (this file), mean of 4 folds (model card)" in line for line in lines)
    terms = next(line for line in lines if line.startswith("Terms: "))
    assert PACKAGED_TERMS in terms and "MODEL_LICENSE.md" in terms
    card = next(line for line in lines if line.startswith("Card of the packaged model: "))
    assert Path(card.split(": ", 1)[1]).is_file()


@needs_packaged
def test_json_names_every_rule_and_the_winner(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["model", "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert [r["rule"] for r in document["rules"]] == ["-m", "env", "./models", "packaged"]
    assert [r["chosen"] for r in document["rules"]] == [False, False, False, True]
    assert document["chosen"] == {"rule": "packaged", "path": str(PACKAGED)}
    model = document["model"]
    assert model["input_size"] == 224 and model["views"] == 1 and model["embedding_dim"] == 1536
    assert model["variant"] == "int8" and 0.5 < model["val_auc"] < 1 and 0.5 < model["variant_auc"] < 1
    assert set(model["calibration"]) >= {"slope", "intercept", "threshold", "p_half_at", "positive_share"}
    assert document["packaged"] is True and document["terms"] == PACKAGED_TERMS
    assert document["code_license"] == "MIT" and Path(document["card"]).name == "MODEL_CARD.md"
    assert Path(document["terms_file"]).name == "MODEL_LICENSE.md"
    assert {f["source"] for f in document["figures"]} == {"model metadata", "model card"}
    assert "CPUExecutionProvider" in document["runtime"]["providers"] and document["error"] is None


@needs_packaged
def test_each_rule_in_turn_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PACKAGED is not None
    local = tmp_path / "models" / "painter-match.onnx"
    local.parent.mkdir()
    shutil.copy(PACKAGED, local)
    assert report().rule == "./models"
    env_copy = shutil.copy(PACKAGED, tmp_path / "from-env.onnx")
    monkeypatch.setenv(MODEL_ENV, str(env_copy))
    assert report().rule == "env"
    given = shutil.copy(PACKAGED, tmp_path / "given.onnx")
    code, out, _ = _run(["model", "-m", str(given), "--json"], capsys)
    document = json.loads(out)
    assert code == 0 and document["chosen"]["rule"] == "-m"
    # Every rule that names a file is listed with it, whichever wins.
    assert [Path(r["path"]).name for r in document["rules"]] == [
        "given.onnx",
        "from-env.onnx",
        "painter-match.onnx",
        "painter-match.onnx",
    ]
    # A copy of the packaged model's weights comes under the packaged model's terms.
    assert document["packaged"] is True and document["terms"] == PACKAGED_TERMS


def test_a_model_of_ones_own_has_no_packaged_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from onnx_models import write_tiny_model

    own = write_tiny_model(tmp_path / "own.onnx")
    code, out, _ = _run(["model", "-m", str(own), "--json"], capsys)
    document = json.loads(out)
    assert code == 0 and document["packaged"] is False
    assert document["terms"].startswith("not the packaged model")
    assert all(f["source"] == "model metadata" for f in document["figures"])


def test_a_missing_model_is_one_line_after_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "gone.onnx"))
    code, out, err = _run(["model"], capsys)
    assert code == 1
    assert any(line.endswith("(missing)   <- runs now") for line in out.splitlines())
    assert len(err.splitlines()) == 1 and err.startswith("painter-match: error: ") and "gone.onnx" in err
    assert "Traceback" not in out + err


def test_help_says_the_models_terms() -> None:
    text = " ".join(get_parser().format_help().split())
    assert "research and education, not commercial use" in text and "the code is MIT" in text
    assert "painter-match model" in text
