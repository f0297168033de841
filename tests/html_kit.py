"""What the HTML report tests share (tests/evaluation/test_html_reports.py, test_html_commands.py,
test_similar_edges.py): a page read back the way a browser would (the standard library's
HTMLParser), its self-containedness checked, and painting-like images to show in it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image

_VOID = {"img", "br", "meta", "input", "link", "hr", "source", "wbr", "area", "base", "col", "embed"}


class Page(HTMLParser):
    """Every element with its attributes and the text inside it (nested text counts for each parent)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(text)
        self.close()

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> dict:
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": ""}
        self.elements.append(element)
        return element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._element(tag, attrs)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, cls: str | None = None) -> list[dict]:
        return [
            e
            for e in self.elements
            if (tag is None or e["tag"] == tag)
            and (cls is None or cls in e["attrs"].get("class", "").split())
        ]

    def text(self) -> str:
        return " ".join(e["text"] for e in self.find("body"))


def painting(path: Path, seed: int, size: tuple[int, int] = (192, 144), mode: str = "RGB") -> Path:
    """A painting-like image: colour fields and grain. Its thumbnail is about as large a JPEG as a
    real painting's (6.2 kB inlined at 160 px, against 7.0 kB measured on WikiArt reproductions)."""
    rng = np.random.default_rng(seed)
    fields = Image.fromarray(rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    pixels = np.asarray(fields, dtype=np.float64) + rng.normal(0, 20, (size[1], size[0], 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert(mode).save(path)
    return path


def read(path: Path) -> tuple[str, Page]:
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def assert_self_contained(text: str, page: Page) -> None:
    assert re.search(r"https?:|ftp:|file:", text, re.IGNORECASE) is None, "a URL in the page"
    assert page.find("script") == [] and "<script" not in text.lower()
    assert page.find("link") == [] and "@import" not in text and "url(" not in text
    for element in page.elements:
        assert "href" not in element["attrs"], element
        if "src" in element["attrs"]:
            assert element["attrs"]["src"].startswith("data:image/jpeg;base64,"), element["attrs"]["src"][:40]
    assert "@media print" in text
