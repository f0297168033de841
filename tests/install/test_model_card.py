"""The model card and the terms: a Hugging Face YAML header that parses, figures that agree with
the card's own Evaluation table, a "How to use" that runs, and the same terms everywhere a user
meets them (LICENSE, the package metadata, MODEL_LICENSE.md, the header, `painter-match model`)."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest

from painter_match.cli import get_parser
from painter_match.inference.model import MODEL_ENV
from painter_match.inference.model_report import PACKAGED_TERMS, card_figures, packaged_files

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "painter_match" / "models"
CARD = MODELS / "MODEL_CARD.md"
TERMS = MODELS / "MODEL_LICENSE.md"


def _split(text: str) -> tuple[str, str]:
    found = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    assert found, "MODEL_CARD.md must open with a YAML header between two '---' lines"
    return found.group(1), found.group(2)


def _header() -> dict:
    yaml = pytest.importorskip("yaml", reason="pyyaml comes with the dev extra")
    header, _ = _split(CARD.read_text(encoding="utf-8"))
    data = yaml.safe_load(header)
    assert isinstance(data, dict)
    return data


def test_the_header_is_hugging_face_metadata() -> None:
    data = _header()
    assert data["license"] == "other" and data["license_name"] == "painter-match-model"
    assert (CARD.parent / data["license_link"]) == TERMS and TERMS.is_file()
    assert data["pipeline_tag"] == "image-feature-extraction" and data["library_name"] == "painter-match"
    assert "onnx" in data["tags"] and set(data["datasets"]) == {"wikiart-224", "real-paintings-128"}
    assert data["metrics"] == ["roc_auc"]
    (entry,) = data["model-index"]
    (result,) = entry["results"]
    assert result["task"]["type"] == "image-feature-extraction" and result["dataset"]["name"]
    assert all(m["type"] == "roc_auc" and 0.5 < m["value"] <= 1 for m in result["metrics"])


def test_the_headers_figures_are_the_cards_and_the_command_reads_them() -> None:
    data = _header()
    metrics = data["model-index"][0]["results"][0]["metrics"]
    _, body = _split(CARD.read_text(encoding="utf-8"))
    evaluation = body.split("## Evaluation", 1)[1]
    mean_row = next(line for line in evaluation.splitlines() if line.startswith("| **mean**"))
    cells = [cell.strip().strip("*") for cell in mean_row.strip("|").split("|")]
    table = {"fp32": float(cells[2]), "int8": float(cells[3])}  # | mean | pairs | fp32 | int8 | ImageNet |
    for metric in metrics:
        variant = "int8" if "int8" in metric["name"] else "fp32"
        assert metric["value"] == table[variant], f"the header's {metric['name']} differs from the table"
    # `painter-match model` reads the same figures without a YAML library.
    read = card_figures(CARD.read_text(encoding="utf-8"))
    assert [(f.name, f.value) for f in read] == [(m["name"], m["value"]) for m in metrics]


def test_the_terms_agree_wherever_they_are_stated() -> None:
    terms = TERMS.read_text(encoding="utf-8")
    assert "**Research and education only.**" in terms and "**Not for commercial use.**" in terms
    assert "LicenseRef-painter-match-model" in terms
    assert PACKAGED_TERMS == "research and education only, not commercial use"
    _, body = _split(CARD.read_text(encoding="utf-8"))
    body = " ".join(body.split())  # the card wraps its lines anywhere
    assert "**Terms:** research and education, not commercial use" in body
    assert "use it for research and education, not commercially" in body  # "Training data"
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert (
        license_text.startswith("MIT License\n")
        and "Permission is hereby granted, free of charge" in license_text
    )
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    metadata = setup["metadata"]
    assert metadata["license_expression"] == "MIT AND LicenseRef-painter-match-model"
    assert metadata["license_files"].split() == ["LICENSE", "painter_match/models/MODEL_LICENSE.md"]
    assert "the packaged model is for research and education, not commercial use" in metadata["description"]
    assert "models/MODEL_LICENSE.md" in setup["options.package_data"]["painter_match"].split()
    # The installed package finds both beside the model.
    card, terms_file = packaged_files()
    assert card is not None and card.name == "MODEL_CARD.md" and terms_file is not None


def _blocks(language: str) -> list[str]:
    _, body = _split(CARD.read_text(encoding="utf-8"))
    how_to = body.split("## How to use", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", how_to, re.DOTALL)


def test_how_to_use_commands_are_real_commands() -> None:
    (shell,) = _blocks("sh")
    parser = get_parser()
    commands = [line.split("#", 1)[0].strip() for line in shell.splitlines()]
    commands = [c for c in commands if c.startswith("painter-match ")]
    assert {shlex.split(c)[1] for c in commands} == {"verify", "embed", "similar", "model"}
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])  # exits (fails the test) on a bad option
        assert args.command == shlex.split(command)[1]


def test_how_to_use_python_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from painter_match.inference.model import packaged_model_path

    if packaged_model_path() is None:
        pytest.skip("this install has no packaged model")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODEL_ENV, raising=False)
    for name, colour in (("a.jpg", (180, 60, 40)), ("b.jpg", (40, 60, 180))):
        Image.new("RGB", (300, 220), colour).save(tmp_path / name)
    (snippet,) = _blocks("python")
    namespace: dict = {}
    exec(compile(snippet, "MODEL_CARD.md", "exec"), namespace)  # noqa: S102 - the card's own example
    out = capsys.readouterr().out
    assert re.fullmatch(r"(same artist|different artists): P\(same artist\) = 0\.\d{3}\n", out)
    assert namespace["vectors"].shape == (2, 1536)
