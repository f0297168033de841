"""`painter-match score` on a tiny hand-built ONNX model: from images or embeddings, the prior,
the wrong folder, bad pairs files, missing images filled or an error, and no torch."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_kit import REPO
from cli_kit import one_line_error as _one_line_error
from cli_kit import run as _run

from painter_match.cli import main

# --- score --------------------------------------------------------------------------------------


@pytest.fixture()
def kaggle(synth_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the synthetic Kaggle folder's test part and pair files."""
    out = tmp_path / "kaggle"
    shutil.copytree(synth_dir / "test", out / "test")
    for name in ("submission_info.csv", "solution.csv"):
        shutil.copy(synth_dir / name, out / name)
    return out


def _read_submission(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["index", "sameArtist"]
        return list(reader)


def test_score_from_images_with_solution(
    kaggle: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = kaggle / "submission.csv"
    argv = ["score", str(kaggle / "submission_info.csv"), "-o", str(out), "--images", str(kaggle / "test")]
    code, stdout, _ = _run(
        [*argv, "-m", str(models["a"]), "--solution", str(kaggle / "solution.csv"), "--json"], capsys
    )
    assert code == 0, stdout
    summary = json.loads(stdout)
    with open(kaggle / "submission_info.csv", newline="") as handle:
        wanted = [row["index"] for row in csv.DictReader(handle)]
    rows = _read_submission(out)
    assert [r["index"] for r in rows] == wanted
    probabilities = np.array([float(r["sameArtist"]) for r in rows])
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert summary["pairs"] == len(wanted) and 0.0 <= summary["auc"] <= 1.0
    # The synthetic test/ has corrupt files: their pairs were filled and reported.
    assert summary["unreadable_images"] > 0 and summary["filled"] > 0
    assert summary["model"]["path"] == str(models["a"]) and summary["model"]["rule"] == "-m"
    assert [p.name for p in kaggle.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_score_from_embeddings_matches_images(
    kaggle: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = str(kaggle / "submission_info.csv")
    from_images, from_file = tmp_path / "a.csv", tmp_path / "b.csv"
    assert (
        main(
            [
                "score",
                pairs,
                "-o",
                str(from_images),
                "--images",
                str(kaggle / "test"),
                "-m",
                str(models["a"]),
                "-q",
            ]
        )
        == 0
    )
    emb = tmp_path / "e.npz"
    assert main(["embed", str(kaggle / "test"), "-o", str(emb), "-m", str(models["a"]), "-q"]) == 0
    capsys.readouterr()
    # No model needed: the calibration travels with the embeddings.
    code, stdout, _ = _run(["score", pairs, "-o", str(from_file), "--embeddings", str(emb), "--json"], capsys)
    assert code == 0
    a = np.array([float(r["sameArtist"]) for r in _read_submission(from_images)])
    b = np.array([float(r["sameArtist"]) for r in _read_submission(from_file)])
    np.testing.assert_allclose(a, b, atol=1e-4)
    code, _, err = _run(
        ["score", pairs, "-o", str(from_file), "--embeddings", str(emb), "-m", str(models["b"]), "--force"],
        capsys,
    )
    assert code == 1 and "made by model" in _one_line_error(err)


def test_score_prior_moves_every_probability_but_not_the_ranking(
    kaggle: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emb = tmp_path / "e.npz"
    assert main(["embed", str(kaggle / "test"), "-o", str(emb), "-m", str(models["a"]), "-q"]) == 0
    base = ["score", str(kaggle / "submission_info.csv"), "--embeddings", str(emb), "--json"]
    base += ["--solution", str(kaggle / "solution.csv")]
    capsys.readouterr()
    plain = json.loads(_run([*base, "-o", str(tmp_path / "plain.csv")], capsys)[1])
    rare = json.loads(_run([*base, "-o", str(tmp_path / "rare.csv"), "--prior", "0.02"], capsys)[1])
    assert (
        plain["prior"] is None
        and rare["prior"] == 0.02
        and rare["auc"] == pytest.approx(plain["auc"], abs=2e-3)
    )
    before = np.array([float(r["sameArtist"]) for r in _read_submission(tmp_path / "plain.csv")])
    after = np.array([float(r["sameArtist"]) for r in _read_submission(tmp_path / "rare.csv")])
    filled = before == 0.5  # pairs with an unreadable image keep --fill-value
    assert filled.sum() == plain["filled"] == rare["filled"] > 0 and (after[filled] == 0.5).all()
    # Bayes' rule: every pair's odds are multiplied by the prior odds over the fitted ones (1:1).
    odds_ratio = (after / (1 - after)) / (before / (1 - before))
    np.testing.assert_allclose(odds_ratio[~filled], 0.02 / 0.98, rtol=2e-3)
    assert (after[~filled] < before[~filled]).all()


@pytest.mark.parametrize("prior", ["0", "1", "1.5", "abc"])
def test_a_prior_outside_zero_one_is_a_usage_error(
    prior: str, kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(
            [
                "score",
                str(kaggle / "submission_info.csv"),
                "-o",
                str(tmp_path / "s.csv"),
                "--images",
                str(kaggle / "test"),
                "--prior",
                prior,
            ]
        )
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "--prior" in err and "between 0 and 1" in err
    assert not (tmp_path / "s.csv").exists()


def test_score_embeddings_of_the_wrong_folder(
    kaggle: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emb = tmp_path / "e.npz"
    assert main(["embed", str(kaggle), "-o", str(emb), "-m", str(models["a"]), "-q"]) == 0  # test/NAME paths
    argv = [
        "score",
        str(kaggle / "submission_info.csv"),
        "-o",
        str(tmp_path / "s.csv"),
        "--embeddings",
        str(emb),
    ]
    code, _, err = _run(argv, capsys)
    assert code == 1 and "test/ folder" in _one_line_error(err)


def _write_pairs(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty"),
        ("index,image1\n0,a.jpg\n", "image2"),
        ("index,image1,image2\n0,{a},{b}\n0,{b},{a}\n", "index"),
        ("index,image1,image2\n0,../{a},{b}\n", "outside"),
        ("index,image1,image2\n0,/etc/passwd,{b}\n", "absolute"),
    ],
)
def test_score_bad_pairs_files(
    content: str,
    expected: str,
    kaggle: Path,
    models: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = sorted(p.name for p in (kaggle / "test").iterdir())[:2]
    pairs = _write_pairs(tmp_path / "pairs.csv", content.format(a=a, b=b))
    out = tmp_path / "s.csv"
    code, _, err = _run(
        ["score", str(pairs), "-o", str(out), "--images", str(kaggle / "test"), "-m", str(models["a"])],
        capsys,
    )
    assert code == 1
    assert expected in _one_line_error(err)
    assert not out.exists()


def test_score_missing_image_fill_or_error(
    kaggle: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = [line.split(",")[1] for line in (kaggle / "submission_info.csv").read_text().splitlines()[1:3]]
    (kaggle / "test" / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    pairs = _write_pairs(
        tmp_path / "pairs.csv", f"index,image1,image2\n7,{a},{b}\n3,{a},gone.jpg\n5,broken.jpg,{b}\n"
    )
    out = tmp_path / "s.csv"
    argv = ["score", str(pairs), "-o", str(out), "--images", str(kaggle / "test"), "-m", str(models["a"])]
    code, stdout, _ = _run([*argv, "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["unreadable_images"] == 2 and summary["filled"] == 2
    rows = _read_submission(out)
    assert [r["index"] for r in rows] == ["7", "3", "5"]
    assert float(rows[1]["sameArtist"]) == pytest.approx(0.5) and float(
        rows[2]["sameArtist"]
    ) == pytest.approx(0.5)
    code, _, err = _run([*argv, "--missing", "error", "--force"], capsys)
    assert code == 1 and "gone.jpg" in _one_line_error(err) and "--missing fill" in err
    code, _, err = _run([*argv, "--fill-value", "0.25", "-q", "--force"], capsys)
    assert code == 0 and float(_read_submission(out)[1]["sameArtist"]) == pytest.approx(0.25)


def test_score_never_imports_torch(kaggle: Path, models: dict[str, Path], tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from painter_match.cli import main\n"
        f"assert main(['score', {str(kaggle / 'submission_info.csv')!r}, '-o', {str(tmp_path / 's.csv')!r},"
        f" '--images', {str(kaggle / 'test')!r}, '-m', {str(models['a'])!r}, '-q']) == 0\n"
    )
    env = {**os.environ}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO, env=env
    )
    assert result.returncode == 0, result.stderr
