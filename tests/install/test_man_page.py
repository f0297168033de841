"""The manual page the wheel installs (man/painter-match.1, committed) is the real parser's.

`make man` writes it with argparse-manpage; a build cannot (the parser imports the package's own
dependencies), so the page is committed and shipped as data (setup.cfg, ``[options.data_files]``)
into ``<prefix>/share/man/man1``, and this test fails whenever an option changes without it.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

import painter_match

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "man" / "painter-match.1"


def _body(text: str) -> list[str]:
    """The page without its .TH line, which carries the day it was made."""
    return [line for line in text.splitlines() if not line.startswith(".TH ")]


def test_the_committed_page_matches_the_parser(tmp_path: Path) -> None:
    pytest.importorskip("argparse_manpage", reason="argparse-manpage comes with the dev extra")
    tool = Path(sys.executable).parent / "argparse-manpage"
    if not tool.is_file():
        pytest.skip(f"no {tool}")
    fresh = tmp_path / "painter-match.1"
    # The Makefile's `man` target, argument for argument (COLUMNS: argparse wraps usage to the terminal).
    subprocess.run(
        [
            str(tool),
            "--module",
            "painter_match.cli",
            "--function",
            "get_parser",
            "--project-name",
            "painter-match",
            "--prog",
            "painter-match",
            "--version",
            painter_match.__version__,
            "--description",
            "decide whether two paintings share an artist",
            "--manual-title",
            "painter-match manual",
            "--output",
            str(fresh),
        ],
        check=True,
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
    )
    assert PAGE.is_file(), "man/painter-match.1 is missing: run `make man` and commit it"
    assert _body(PAGE.read_text()) == _body(fresh.read_text()), (
        "man/painter-match.1 no longer matches the command line: run `make man` and commit it"
    )


def test_the_page_is_installed_where_man_looks() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert setup["options.data_files"]["share/man/man1"].split() == ["man/painter-match.1"]
    text = PAGE.read_text()
    assert (
        text.startswith('.TH PAINTER\\-MATCH "1"') and f"painter\\-match {painter_match.__version__}" in text
    )
    assert "research and education, not commercial" in text  # the epilogue: the model's terms
    assert "\\fBpainter\\-match\\fR \\fI\\,model\\/\\fR" in text
