"""The inference commands (embed, score, verify, similar) on a tiny hand-built ONNX model: results,
each bad input's one-line error, exit codes, resume, and no torch."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from no_torch import NO_TORCH
from onnx_models import bad_version_metadata, tiny_info, write_tiny_model

from painter_match.cli import main
from painter_match.data.images import load_image
from painter_match.errors import ImageLoadError
from painter_match.inference.embeddings import load_embeddings, partial_path
from painter_match.inference.encoder import OnnxEncoder

TESTS = Path(__file__).parent
REPO = TESTS.parent


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "a": write_tiny_model(folder / "a.onnx", info=tiny_info(tag="a")),
        "b": write_tiny_model(folder / "b.onnx", info=tiny_info(tag="b"), seed=1),
        "bare": write_tiny_model(folder / "bare.onnx", metadata=False),
        "v99": write_tiny_model(folder / "v99.onnx", metadata=bad_version_metadata()),
    }


@pytest.fixture()
def images(synth_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the synthetic test/ folder, readable files only."""
    out = tmp_path / "test"
    out.mkdir()
    for path in sorted((synth_dir / "test").iterdir()):
        try:
            load_image(path)
        except ImageLoadError:
            continue
        shutil.copy(path, out / path.name)
    return out


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(err: str) -> str:
    """The error line; notes such as the provider line may come before it, a traceback never."""
    lines = err.splitlines()
    assert lines and lines[-1].startswith("painter-match: error: "), err
    assert sum(line.startswith("painter-match: error") for line in lines) == 1 and "Traceback" not in err
    return lines[-1]


# --- embed ---------------------------------------------------------------------------------------


def test_embed_writes_paths_vectors_and_model(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.npz"
    code, stdout, _ = _run(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    files = sorted(p.name for p in images.iterdir())
    assert summary["images"] == summary["embedded"] == len(files) and summary["unreadable"] == 0
    assert summary["model"]["provider"] == "CPUExecutionProvider"
    embeddings = load_embeddings(out)
    assert embeddings.paths == files
    assert embeddings.root == str(images.resolve())
    np.testing.assert_allclose(np.linalg.norm(embeddings.vectors, axis=1), 1.0, atol=1e-5)
    assert embeddings.source.info.identity == tiny_info(tag="a").identity
    assert not partial_path(out).exists() and not (tmp_path / "e.errors.csv").exists()


def test_embed_text_output_names_the_provider(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, err = _run(
        ["embed", str(images), "-o", str(tmp_path / "e.npz"), "-m", str(models["a"])], capsys
    )
    assert code == 0 and "images/s" in stdout
    assert "on CPUExecutionProvider" in err


def test_embed_views_option_changes_the_vectors(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["-m", str(models["a"]), "--quiet"]
    assert main(["embed", str(images), "-o", str(tmp_path / "1.npz"), *base]) == 0
    assert main(["embed", str(images), "-o", str(tmp_path / "5.npz"), "--views", "4", *base]) == 0
    one, five = load_embeddings(tmp_path / "1.npz"), load_embeddings(tmp_path / "5.npz")
    assert one.source.identity != five.source.identity and five.source.views.crops == 4
    assert not np.allclose(one.vectors, five.vectors)


def test_model_from_environment(
    images: Path, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAINTER_MATCH_MODEL", str(models["b"]))
    assert main(["embed", str(images), "-o", str(tmp_path / "e.npz"), "--quiet"]) == 0
    assert load_embeddings(tmp_path / "e.npz").source.info.identity == tiny_info(tag="b").identity


def test_unreadable_image_is_skipped_and_listed_or_strict(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (images / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "e.npz"
    code, stdout, _ = _run(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["unreadable"] == 1 and summary["embedded"] == summary["images"] - 1
    with open(tmp_path / "e.errors.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == ["zz_broken.jpg"] and rows[0]["cause"]
    assert "zz_broken.jpg" not in load_embeddings(out).paths

    strict = ["embed", str(images), "-o", str(tmp_path / "s.npz"), "-m", str(models["a"]), "--strict", "-q"]
    code, _, err = _run(strict, capsys)
    assert code == 1
    assert "zz_broken.jpg" in _one_line_error(err) and "--strict" in err
    assert not (tmp_path / "s.npz").exists()


def test_existing_output_needs_resume_or_force(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["embed", str(images), "-o", str(tmp_path / "e.npz"), "-m", str(models["a"]), "-q"]
    assert main(args) == 0
    code, _, err = _run(args, capsys)
    assert code == 1 and "--resume" in _one_line_error(err) and "--force" in err
    assert main([*args, "--force"]) == 0
    capsys.readouterr()
    code, stdout, _ = _run([*args, "--resume", "--json"], capsys)
    assert code == 0 and json.loads(stdout)["embedded"] == 0
    with pytest.raises(SystemExit) as caught:
        main([*args, "--resume", "--force"])
    assert caught.value.code == 2


def test_interrupted_run_resumes_with_only_the_rest(
    images: Path,
    models: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "e.npz"
    args = ["embed", str(images), "-o", str(out), "-m", str(models["a"]), "--batch-size", "4", "--json"]
    total = len(list(images.iterdir()))
    original = OnnxEncoder.embed_pixels
    calls = {"n": 0}

    def interrupt_on_third_batch(self: OnnxEncoder, views: list[np.ndarray]) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, views)

    monkeypatch.setattr(OnnxEncoder, "embed_pixels", interrupt_on_third_batch)
    code, _, err = _run(args, capsys)
    assert code == 130 and "--resume" in err
    partial = load_embeddings(partial_path(out))
    assert len(partial) == 8 and not out.exists()

    monkeypatch.setattr(OnnxEncoder, "embed_pixels", original)
    code, stdout, _ = _run([*args, "--resume"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["resumed"] == 8 and summary["embedded"] == total - 8
    assert not partial_path(out).exists()

    clean = tmp_path / "clean.npz"
    assert main(["embed", str(images), "-o", str(clean), "-m", str(models["a"]), "-q"]) == 0
    resumed, reference = load_embeddings(out), load_embeddings(clean)
    assert resumed.paths == reference.paths
    np.testing.assert_allclose(resumed.vectors, reference.vectors, atol=1e-4)


def test_resume_refuses_to_mix_models(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "e.npz")
    assert main(["embed", str(images), "-o", out, "-m", str(models["a"]), "-q"]) == 0
    code, _, err = _run(["embed", str(images), "-o", out, "-m", str(models["b"]), "--resume"], capsys)
    assert code == 1 and "cannot be mixed" in _one_line_error(err)
    code, _, err = _run(
        ["embed", str(images), "-o", out, "-m", str(models["a"]), "--resume", "--views", "2"], capsys
    )
    assert code == 1 and "cannot be mixed" in err


def test_a_re_export_of_the_same_weights_is_the_same_model(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same weights exported a day later: only the export time differs.
    again = write_tiny_model(tmp_path / "again.onnx", info=tiny_info(tag="a", created="2026-01-02T09:30:00Z"))
    out = tmp_path / "e.npz"
    assert main(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "-q"]) == 0
    code, _, err = _run(["embed", str(images), "-o", str(out), "-m", str(again), "--resume", "-q"], capsys)
    assert code == 0, err
    query = tmp_path / "outside.png"  # not in the file: embedded with -m
    shutil.copy(sorted(images.iterdir())[0], query)
    code, _, err = _run(["similar", str(query), "--embeddings", str(out), "-m", str(again)], capsys)
    assert code == 0, err
    code, _, err = _run(["similar", str(query), "--embeddings", str(out), "-m", str(models["b"])], capsys)
    assert code == 1 and "was made by model" in _one_line_error(err)


def test_killed_run_saves_progress(images: Path, models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "e.npz"
    marker = tmp_path / "started"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from painter_match.inference.encoder import OnnxEncoder\n"
        "original = OnnxEncoder.embed_pixels\n"
        "def slow(self, views):\n"
        f"    Path({str(marker)!r}).touch()\n"
        "    time.sleep(0.3)\n"
        "    return original(self, views)\n"
        "OnnxEncoder.embed_pixels = slow\n"
        "from painter_match.cli import main\n"
        f"sys.exit(main(['embed', {str(images)!r}, '-o', {str(out)!r}, '-m', {str(models['a'])!r},"
        " '--batch-size', '2', '-q']))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    done = len(load_embeddings(partial_path(out)))
    assert 0 < done < len(list(images.iterdir()))
    assert main(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "-q", "--resume"]) == 0
    assert len(load_embeddings(out)) == len(list(images.iterdir()))


def test_embed_never_imports_torch(images: Path, models: dict[str, Path], tmp_path: Path) -> None:
    code = (
        NO_TORCH + "from painter_match.cli import main\n"
        f"assert main(['embed', {str(images)!r}, '-o', {str(tmp_path / 'e.npz')!r}, '-m', {str(models['a'])!r},"
        " '--quiet']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr


# --- models -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "expected"),
    [("missing", "not found"), ("bare", "not a painter-match model"), ("v99", "schema version")],
)
def test_bad_models_say_how_to_make_one(
    which: str,
    expected: str,
    images: Path,
    models: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = models.get(which, tmp_path / "nothing.onnx")
    code, _, err = _run(["embed", str(images), "-o", str(tmp_path / "e.npz"), "-m", str(model)], capsys)
    assert code == 1
    assert expected in _one_line_error(err) and "make export" in err


def test_unavailable_provider_is_a_clear_error(
    images: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    first = str(next(images.iterdir()))
    code, _, err = _run(["verify", first, first, "-m", str(models["a"]), "--provider", "tensorrt"], capsys)
    assert code == 1 and 'pip install "painter-match[gpu]"' in _one_line_error(err)


# --- verify -------------------------------------------------------------------------------------


def test_verify_text_and_json(
    images: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = sorted(images.iterdir())[:2]
    code, stdout, _ = _run(["verify", str(a), str(a), "-m", str(models["a"]), "--json"], capsys)
    assert code == 0
    same = json.loads(stdout)
    assert same["similarity"] == pytest.approx(1.0, abs=1e-4) and same["same_artist"] is True
    assert same["probability"] == pytest.approx(float(tiny_info().calibration.probability(1.0)), abs=1e-4)
    code, stdout, _ = _run(["verify", str(a), str(b), "-m", str(models["a"]), "--views", "2"], capsys)
    assert code == 0 and "P(same artist)" in stdout and "threshold 0.5000" in stdout


def test_verify_prior_moves_the_probability_and_the_verdict(
    images: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = sorted(images.iterdir())[:2]
    argv = ["verify", str(a), str(b), "-m", str(models["a"]), "--json"]
    plain = json.loads(_run(argv, capsys)[1])
    rare = json.loads(_run([*argv, "--prior", "0.01"], capsys)[1])
    moved = tiny_info().calibration.at_prior(0.01)
    assert plain["prior"] is None and rare["prior"] == 0.01
    assert rare["similarity"] == plain["similarity"]
    assert rare["probability"] == pytest.approx(float(moved.probability(rare["similarity"])), abs=1e-6)
    assert rare["probability"] < plain["probability"] and rare["threshold"] > plain["threshold"]
    # The cut moves by the log-odds shift over the slope (8): past 1, so nothing is "same" at 1%.
    assert rare["threshold"] == pytest.approx(0.5 - math.log(0.01 / 0.99) / 8.0) and rare["threshold"] > 1
    itself = ["verify", str(a), str(a), "-m", str(models["a"]), "--json", "--prior"]
    assert json.loads(_run([*itself, "0.01"], capsys)[1])["same_artist"] is False
    at_a_fifth = json.loads(_run([*itself, "0.2"], capsys)[1])
    assert at_a_fifth["same_artist"] is True
    assert at_a_fifth["probability"] == pytest.approx(
        float(tiny_info().calibration.at_prior(0.2).probability(1.0)), abs=1e-5
    )
    code, stdout, _ = _run(["verify", str(a), str(b), "-m", str(models["a"]), "--prior", "0.01"], capsys)
    assert code == 0 and "at a prior share of same-artist pairs of 0.01" in stdout


def test_prior_needs_a_calibration_that_records_its_share(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hand_set = replace(tiny_info(), calibration=replace(tiny_info().calibration, positive_share=0.0))
    model = write_tiny_model(tmp_path / "hand.onnx", info=hand_set)
    a, b = sorted(images.iterdir())[:2]
    code, _, err = _run(["verify", str(a), str(b), "-m", str(model), "--prior", "0.1"], capsys)
    assert code == 1 and "records no share of same-artist pairs" in _one_line_error(err) and str(model) in err
    assert _run(["verify", str(a), str(b), "-m", str(model)], capsys)[0] == 0


def test_verify_unreadable_or_missing_image(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = str(next(images.iterdir()))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    for other in (bad, tmp_path / "absent.jpg"):
        code, _, err = _run(["verify", a, str(other), "-m", str(models["a"])], capsys)
        assert code == 1 and other.name in _one_line_error(err)


# --- similar ------------------------------------------------------------------------------------


@pytest.fixture()
def embedded(images: Path, models: dict[str, Path], tmp_path: Path) -> Path:
    out = tmp_path / "e.npz"
    assert main(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "-q"]) == 0
    return out


def test_similar_with_labels(
    synth_dir: Path, images: Path, embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = sorted(p.name for p in images.iterdir())[0]
    argv = ["similar", query, "--embeddings", str(embedded), "-k", "5", "--json"]
    code, stdout, _ = _run([*argv, "--labels", str(synth_dir / "all_data_info.csv")], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["query_in_embeddings"] is True and len(result["neighbours"]) == 5
    assert query not in [n["path"] for n in result["neighbours"]]
    similarities = [n["similarity"] for n in result["neighbours"]]
    assert similarities == sorted(similarities, reverse=True)
    # all_data_info names are bare file names, found by name; every neighbour is labelled.
    assert result["labelled_neighbours"] == 5
    shares = [a["share"] for a in result["artists"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1.0, abs=1e-5)
    # A folder works as labels too (paths test/NAME, matched by file name).
    code, stdout, _ = _run([*argv, "--labels", str(synth_dir)], capsys)
    assert code == 0 and json.loads(stdout)["artists"] == result["artists"]
    code, stdout, _ = _run(
        ["similar", query, "--embeddings", str(embedded), "--labels", str(synth_dir)], capsys
    )
    assert code == 0 and "most likely artists" in stdout


def test_similar_embeds_an_outside_image_with_the_same_model(
    images: Path, embedded: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "query.jpg"
    first = sorted(images.iterdir())[0]
    shutil.copy(first, outside)
    argv = ["similar", str(outside), "--embeddings", str(embedded), "-k", "3", "--json"]
    code, stdout, _ = _run([*argv, "-m", str(models["a"])], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["query_in_embeddings"] is False
    assert result["neighbours"][0]["path"] == first.name  # its twin
    assert result["neighbours"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    code, _, err = _run([*argv, "-m", str(models["b"])], capsys)
    assert code == 1 and "same model" in _one_line_error(err)
    code, _, err = _run(["similar", "nope.jpg", "--embeddings", str(embedded)], capsys)
    assert code == 1 and "nope.jpg" in _one_line_error(err)


# --- usage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["embed"],
        ["score", "pairs.csv", "-o", "out.csv"],  # neither --images nor --embeddings
        ["score", "pairs.csv", "-o", "out.csv", "--images", "a", "--embeddings", "b"],
        ["score", "pairs.csv", "-o", "out.csv", "--images", "a", "--missing", "maybe"],
        ["verify", "a.jpg"],
        ["similar", "a.jpg"],  # no --embeddings
        ["embed", "dir", "--provider", "tpu"],
        ["embed", "dir", "--batch-size", "0"],
        ["score", "p.csv", "-o", "o.csv", "--images", "a", "--fill-value", "2"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_help_lists_the_inference_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("embed", "score", "verify", "similar"))


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
