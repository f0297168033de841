"""What the inference commands' tests share (tests/commands/test_embed.py, test_verify.py,
test_similar.py, test_score.py, once one file): a run through `main()` and its one error line.

Their tiny hand-built ONNX models (`models`) and the writable copy of the synthetic test paintings
(`images`) are tests/conftest.py's fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from painter_match.cli import main

REPO = Path(__file__).parent.parent


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    """The error line; notes such as the provider line may come before it, a traceback never."""
    lines = err.splitlines()
    assert lines and lines[-1].startswith("painter-match: error: "), err
    assert sum(line.startswith("painter-match: error") for line in lines) == 1 and "Traceback" not in err
    return lines[-1]
