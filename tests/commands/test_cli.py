"""The command line: exit codes, one-line errors, JSON output, and no torch on the inference path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from painter_match.cli import get_parser, main


def test_every_command_has_help_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    parser = get_parser()
    assert {"synth", "scan", "baseline", "prepare", "train", "evaluate"} <= set(
        parser._subparsers._group_actions[0].choices
    )  # type: ignore[union-attr]
    with pytest.raises(SystemExit) as caught:
        main(["synth", "--help"])
    assert caught.value.code == 0
    assert "(default: 24)" in capsys.readouterr().out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["scan"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["synth", "out", "--artists", "0"])
    assert caught.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_known_error_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("painter-match: error: ") and err.count("\n") == 1
    assert "missing" in err


def test_scan_json(synth_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(synth_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layout"] == "kaggle"
    assert report["unreadable"] == len(report["unreadable_files"]) == 3


def test_baseline_json(synth_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", str(synth_dir), "--json", "--size", "64"]) == 0
    report = json.loads(capsys.readouterr().out)
    solution_rows = sum(1 for _ in (synth_dir / "solution.csv").open()) - 1
    assert report["pairs"] == solution_rows
    assert report["pairs_scored"] <= report["pairs"]
    assert 0.0 <= report["roc_auc"] <= 1.0


def test_synth_json_then_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    args = [
        "synth",
        str(out),
        "--artists",
        "3",
        "--test-artists",
        "1",
        "--paintings",
        "3",
        "--max-size",
        "128",
    ]
    assert main([*args, "--min-size", "64", "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["paintings"] == len(list((out / "train").iterdir())) + len(list((out / "test").iterdir()))
    assert main([*args, "--min-size", "64"]) == 1  # exists: refused without --force
    assert "--force" in capsys.readouterr().err


def test_inference_path_never_imports_torch(synth_dir: Path) -> None:
    code = (
        "import sys\n"
        "from painter_match.cli import main\n"
        f"assert main(['scan', {str(synth_dir)!r}, '--quiet']) == 0\n"
        f"assert main(['baseline', {str(synth_dir)!r}, '--quiet', '--size', '32']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "painter_match", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("painter-match ")


def test_training_without_torch_says_which_extra(synth_dir: Path, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from painter_match.cli import main\n"
        f"sys.exit(main(['train', {str(synth_dir)!r}, '-o', {str(tmp_path / 'run')!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert 'pip install "painter-match[train]"' in result.stderr
    assert result.stderr.count("\n") == 1


# --- usage of the inference commands --------------------------------------------------------------


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
