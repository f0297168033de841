"""bench/gpu-check as far as a CPU allows: without a GPU it says so in one line, exits 0 and writes
nothing; its arguments are checked; and the report it appends says what bounds each row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.gpu_report import bound_of, render
from bench.gpu_report import main as report_main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "gpu-check"
TOOLS = ("bash", "dirname", "realpath", "cat", "paste", "mktemp", "rm", "tail", "timeout", "env")


@pytest.fixture()
def bare_path(tmp_path: Path) -> Path:
    """A PATH holding the shell tools the script needs, and no nvidia-smi."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    return folder


def _run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(path)},
        cwd=path.parent,
        timeout=60,
        check=False,
    )


def test_a_clean_clone_gets_an_executable_script_that_parses() -> None:
    """A clone gets the mode git records, not this checkout's: without 100755 `bench/gpu-check`
    is "permission denied" on the GPU machine it is meant for."""
    staged = subprocess.run(
        ["git", "ls-files", "--stage", "bench/gpu-check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if staged.returncode != 0:
        pytest.skip("not a git checkout: the mode a clone gets cannot be read")
    assert staged.stdout.split()[:1] == ["100755"], staged.stdout
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    syntax = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0 and syntax.stderr == ""


def test_without_nvidia_smi_it_says_so_in_one_line_and_touches_nothing(
    bare_path: Path, tmp_path: Path
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# figures\n")
    repo_results = (REPO / "bench" / "RESULTS.md").read_bytes()
    for args in ((), ("--results", str(results))):
        done = _run(bare_path, *args)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        lines = done.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("bench/gpu-check: no NVIDIA GPU on this machine")
        assert "nothing measured" in lines[0]
    assert str(results) in lines[0]
    assert results.read_text() == "# figures\n"
    assert (REPO / "bench" / "RESULTS.md").read_bytes() == repo_results


def test_an_nvidia_smi_that_lists_no_gpu_is_no_gpu(bare_path: Path, tmp_path: Path) -> None:
    fake = bare_path / "nvidia-smi"
    fake.write_text("#!/usr/bin/env bash\necho 'NVIDIA-SMI has failed: no devices were found' >&2\nexit 9\n")
    fake.chmod(0o755)
    results = tmp_path / "R.md"
    done = _run(bare_path, "--results", str(results))
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    assert "nvidia-smi -L lists none" in done.stdout
    assert not results.exists()


def test_help(bare_path: Path) -> None:
    done = _run(bare_path, "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: bench/gpu-check")
    assert "--results FILE" in done.stdout and "--no-install" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--frobnicate",), "unknown argument '--frobnicate'"),
        (("--results",), "--results needs a value"),
        (("--views", "many"), "--views takes a whole number of crops, got 'many'"),
        (("--budget", "5"), "--budget takes seconds, at least 60, got '5'"),
    ],
)
def test_bad_arguments_are_usage_errors(bare_path: Path, args: tuple[str, ...], message: str) -> None:
    done = _run(bare_path, *args)
    assert done.returncode == 2 and done.stdout == ""
    first, second = done.stderr.splitlines()
    assert first == f"bench/gpu-check: error: {message}"
    assert second.startswith("usage: bench/gpu-check")


# --- the report ----------------------------------------------------------------------------------


def _document() -> dict[str, object]:
    model = [
        {
            "stage": "model",
            "variant": v,
            "provider": "cuda",
            "provider_used": "CUDAExecutionProvider",
            "batch_size": b,
            "io_binding": io,
            "value": rate,
        }
        for v, b, io, rate in (
            ("fp32", 1, False, 900.0),
            ("fp32", 256, True, 20000.0),
            ("fp16", 256, False, 30000.0),
        )
    ]
    embed = [
        # 16 cores x 40 decodes/s = 640 paintings/s; the GPU: 20,000 / 10 views = 2,000: decode-bound.
        {
            "stage": "embed",
            "variant": "fp32",
            "provider": "cuda",
            "value": 480.0,
            "decode_per_core": 40.0,
            "model_rate": 20000.0,
            "extra_args": ["--workers", "16", "--views", "9"],
        },
        # The same decode, a GPU of 3,000 rows/s: 300 paintings/s: GPU-bound.
        {
            "stage": "embed",
            "variant": "fp16",
            "provider": "cuda",
            "value": 150.0,
            "decode_per_core": 40.0,
            "model_rate": 3000.0,
            "extra_args": ["--workers", "16", "--views", "9"],
        },
        {"stage": "embed", "variant": "fp32", "provider": "cpu", "value": 5.0},
    ]
    return {
        "date": "2026-12-02 08:00:00 +0000",
        "command": "python -m bench --quick",
        "machine": {"cores": 16},
        "rows": model + embed,
        "errors": [],
    }


def test_bound_of_names_the_slower_side() -> None:
    row = {"decode_per_core": 40.0, "model_rate": 20000.0}
    assert bound_of(row, 10, 16) == ("decode", 640.0)
    assert bound_of(row, 100, 16) == ("GPU", 200.0)
    assert bound_of({}, 10, 16) == ("unknown", None)


def test_the_report_lists_gpu_rows_with_their_bound(tmp_path: Path) -> None:
    text = render(
        _document(), "GPU 0: NVIDIA H200 (UUID: GPU-1)", "3 passed in 2.0s", "bench/gpu-check --views 9"
    )
    assert text.startswith("### GPU check, 2026-12-02 08:00:00 +0000\n")
    assert "- Device: GPU 0: NVIDIA H200 (UUID: GPU-1)" in text
    assert "| fp32 | CUDAExecutionProvider | 256 | yes | 20,000.0 |" in text
    assert "| fp16 | CUDAExecutionProvider | 256 | no | 30,000.0 |" in text
    assert "| fp32 | cuda | 10 | 480.0 | 4,800.0 | decode | 640.0 | 75% |" in text
    assert "| fp16 | cuda | 10 | 150.0 | 1,500.0 | GPU | 300.0 | 50% |" in text
    assert "| cpu |" not in text

    source = tmp_path / "bench.json"
    source.write_text(json.dumps(_document()))
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nolder figures\n")
    assert (
        report_main([str(source), "--results", str(results), "--device", "GPU 0: X", "--tests", "1 passed"])
        == 0
    )
    written = results.read_text()
    assert written.startswith("# Results\n\nolder figures\n\n### GPU check, ")
    assert written.count("### GPU check") == 1 and "- GPU tests (`pytest -m gpu`): 1 passed" in written


def test_the_bench_takes_the_gpu_batch_sizes_and_the_views(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import _settings, get_parser

    args = get_parser().parse_args(["--quick", "--gpu-batches", "1,8,32,128,256", "--embed-views", "9"])
    assert _settings(args).gpu_batch_sizes == (1, 8, 32, 128, 256) and args.embed_views == 9
    assert _settings(get_parser().parse_args(["--quick"])).gpu_batch_sizes == (1, 256)
    with pytest.raises(SystemExit) as caught:
        get_parser().parse_args(["--gpu-batches", "1,x"])
    assert (
        caught.value.code == 2
        and "expected batch sizes such as 1,32,256, got '1,x'" in capsys.readouterr().err
    )
