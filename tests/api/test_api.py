"""The public Python API: the README's example runs as written, every public name resolves, and
none of it imports torch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from no_torch import NO_TORCH
from onnx_models import tiny_info, write_tiny_model

import painter_match
from painter_match.errors import ImageLoadError

REPO = Path(__file__).resolve().parents[2]


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python API section has no python block"
    return match.group(1)


@pytest.fixture()
def workplace(readable_paintings: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder the README's names work in: a.jpg, b.jpg, scans/ and pairs.csv, and a model."""
    readable = readable_paintings
    (tmp_path / "scans").mkdir()
    for name, source in zip(("a.jpg", "b.jpg"), readable[:2]):
        shutil.copy(source, tmp_path / name)
        shutil.copy(source, tmp_path / "scans" / name)
    (tmp_path / "pairs.csv").write_text("index,image1,image2\n0,a.jpg,b.jpg\n1,b.jpg,a.jpg\n")
    model = write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info())
    monkeypatch.setenv("PAINTER_MATCH_MODEL", str(model))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_readme_example() -> dict[str, object]:
    scope: dict[str, object] = {}
    exec(compile(_readme_example(), "README.md", "exec"), scope)  # noqa: S102 - our own README
    return scope


def test_the_readme_example_runs_twice_in_a_row(workplace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _run_readme_example()
    vector, vectors = first["vector"], first["vectors"]
    assert isinstance(vector, np.ndarray) and vector.dtype == np.float32 and vector.shape == (16,)
    assert isinstance(vectors, np.ndarray) and vectors.dtype == np.float32 and vectors.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vector, vectors[0], atol=2e-5)  # one path in, its row out (batch rounding)
    result = first["result"]
    assert isinstance(result, painter_match.SameArtist) and 0.0 <= result.probability <= 1.0
    summary = first["summary"]
    assert isinstance(summary, painter_match.ScoreSummary)
    assert (summary.pairs, summary.scored, summary.filled) == (2, 2, 0)
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2] == str(result) and printed[-1] == "2 pairs -> submission.csv: 2 scored"
    written = (workplace / "submission.csv").read_text()

    second = _run_readme_example()  # resume=True and force=True: the same answers, no error
    assert second["summary"].scored == 2  # type: ignore[attr-defined]
    assert second["result"] == result and (workplace / "submission.csv").read_text() == written
    np.testing.assert_array_equal(second["vectors"], vectors)  # type: ignore[arg-type]


def test_model_methods_agree_with_each_other(workplace: Path) -> None:
    model = painter_match.load()
    assert model.path == workplace / "tiny.onnx" and model.choice is not None
    assert model.choice.rule == "env"
    a, b = model.embed(["a.jpg", "b.jpg"])
    similarity = float(a @ b)
    result = model.same_artist("a.jpg", "b.jpg")
    expected = float(model.info.calibration.probability(similarity))
    assert result.probability == pytest.approx(expected, abs=1e-6)
    assert result.similarity == pytest.approx(similarity, abs=1e-6) == model.similarity("a.jpg", "b.jpg")
    rare = model.same_artist("a.jpg", "b.jpg", prior=0.02)
    moved = model.info.calibration.at_prior(0.02)
    assert rare.probability == pytest.approx(float(moved.probability(similarity)), abs=1e-6)
    assert rare.probability < result.probability and rare.prior == 0.02 and rare.threshold > result.threshold
    with pytest.raises(ValueError, match="between 0 and 1"):
        model.same_artist("a.jpg", "b.jpg", prior=1.0)
    result = model.embed_folder("scans", "scans.npz")
    stored = painter_match.load_embeddings("scans.npz")
    assert result.embedded == 2 and stored.paths == ["a.jpg", "b.jpg"]
    np.testing.assert_allclose(stored.vectors, np.stack([a, b]), atol=1e-5)
    again = model.embed_folder("scans", "scans.npz", resume=True)
    assert again.embedded == 0 and again.resumed == 2
    with pytest.raises(ImageLoadError, match="missing.jpg"):
        model.embed(["a.jpg", "missing.jpg"])


def test_every_public_name_resolves() -> None:
    for name in painter_match.__all__:
        assert getattr(painter_match, name) is not None, name
    assert set(dir(painter_match)) >= set(painter_match.__all__)
    with pytest.raises(AttributeError):
        painter_match.no_such_name  # noqa: B018


def test_the_api_and_evaluating_an_onnx_model_never_import_torch(workplace: Path, synth_dir: Path) -> None:
    """An inference-only install: torch and torchvision cannot be imported at all."""
    model = workplace / "tiny.onnx"
    code = (
        NO_TORCH + "import painter_match\n"
        f"model = painter_match.load({str(model)!r})\n"
        "vectors = model.embed(['a.jpg', 'b.jpg'])\n"
        "p = model.same_artist('a.jpg', 'b.jpg')\n"
        "model.embed_folder('scans', 'scans.npz')\n"
        "e = painter_match.load_embeddings('scans.npz')\n"
        "painter_match.score_pairs('pairs.csv', 'out.csv', names=e.paths, vectors=e.vectors,"
        " calibration=e.source.info.calibration)\n"
        f"report = painter_match.evaluate({str(model)!r}, {str(synth_dir)!r})\n"
        "assert report.imagenet_auc is None and 'torch' in report.imagenet_skipped\n"
        "assert not report.training_artists_known and report.auc_unseen_artists is None\n"
        "from painter_match.cli import main\n"
        f"assert main(['evaluate', {str(model)!r}, {str(synth_dir)!r}, '--quiet']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=workplace
    )
    assert result.returncode == 0, result.stderr
    assert "seen/unseen   n/a" in result.stdout
