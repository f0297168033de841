"""The three HTML reports, made by the commands themselves (``similar``, ``verify`` and ``evaluate``
with ``--html``), opened in a real browser (headless Chromium), photographed, and checked not to be
blank: the test a person would do by looking.

With the shared real paintings (``../shared/data``) and a real model (`REAL_MODELS`, the first found;
``REPORT_MODEL`` names another) the pages show real work: artist fold 0 of 4 of both shared folders,
the artists a fold-0 model never saw in training. ``similar`` searches a sixth of wikiart-224 (one
hash shard) for each painting of the smallest held-out artist; ``verify`` compares two of that
artist's paintings; ``evaluate`` scores the held-out fold, at most 8 paintings per artist, beside the
baselines. Without them, the synthetic painters and a tiny hand-built model stand in. The images are
read where they lie, never copied. With ``REPORT_SCREENSHOTS=DIR`` (``make report-check`` sets
``docs``) small copies of the screenshots are saved there, for the README.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter_match.cli import main

CHROMIUM = Path("/usr/bin/chromium")
DOCS_LIMIT = 300_000  # bytes per saved screenshot
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
REAL_DATA = [SHARED / "real-paintings-128", SHARED / "wikiart-224"]
# The fold-0 model first: it never saw the artists of fold 0, so its pages show held-out work. The
# packaged default saw every artist; with it the same pages illustrate, they do not measure.
REAL_MODELS = [
    Path("/tmp/exp/prod/lin224e6-fold0/model.onnx"),
    REPO / "models" / "painter-match.onnx",
    REPO / "painter_match" / "models" / "painter-match.onnx",
]
FOLD = "0/4"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def _real_model() -> Path | None:
    named = os.environ.get("REPORT_MODEL")
    if named:
        return Path(named)
    return next((path for path in REAL_MODELS if path.is_file()), None)


def _command(argv: list[str]) -> dict:
    """Run one command in this process; its ``--json`` result."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--json", "--quiet"])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def _real_reports(root: Path, model: Path) -> dict[str, Path]:
    from painter_match.data.catalogue import read_catalogue
    from painter_match.data.selection import fold_artists

    wikiart = REAL_DATA[1]
    held_out = fold_artists(read_catalogue(REAL_DATA).paintings, FOLD)
    folders = [wikiart / artist for artist in sorted(held_out) if (wikiart / artist).is_dir()]
    assert folders, f"no artist of fold {FOLD} has a folder in {wikiart}"
    smallest = min(folders, key=lambda folder: (len(list(folder.iterdir())), folder.name))
    # Named as a user in the checkout would name them: the page shows the paths as given.
    artist = Path(os.path.relpath(smallest))
    gallery = root / "gallery.npz"
    assert main(["embed", str(wikiart), "--shard", "0/6", "-o", str(gallery), "-m", str(model), "-q"]) == 0
    similar = root / "similar.html"
    _command(
        ["similar", str(artist), "--embeddings", str(gallery), "--labels", str(wikiart), "-k", "8"]
        + ["-m", str(model), "--html", str(similar)]
    )
    first, second = sorted(artist.iterdir())[:2]
    verify = root / "verify.html"
    _command(["verify", str(first), str(second), "-m", str(model), "--html", str(verify)])
    evaluation = root / "evaluation.html"
    _command(
        ["evaluate", str(model), *map(str, REAL_DATA), "--fold", FOLD, "--max-per-artist", "8"]
        + ["--html", str(evaluation)]
    )
    return {"similar": similar, "verify": verify, "evaluate": evaluation}


def _synthetic_reports(root: Path) -> dict[str, Path]:
    from onnx_models import write_tiny_model

    from painter_match.data.synth import SynthConfig, generate

    data = root / "data"
    generate(
        data,
        SynthConfig(seed=11, artists=8, test_artists=3, paintings=9, min_size=260, max_size=560, workers=1),
    )
    model = write_tiny_model(root / "tiny.onnx")
    gallery = root / "gallery.npz"
    assert main(["embed", str(data / "train"), "-o", str(gallery), "-m", str(model), "-q"]) == 0
    queries = root / "queries"
    queries.mkdir()
    for path in sorted((data / "test").iterdir())[:3]:
        (queries / path.name).write_bytes(path.read_bytes())  # synthetic paintings, made here
    labels = data / "all_data_info.csv"
    similar = root / "similar.html"
    _command(
        ["similar", str(queries), "--embeddings", str(gallery), "--labels", str(labels), "-k", "8"]
        + ["-m", str(model), "--html", str(similar)]
    )
    first, second = sorted((data / "train").iterdir())[:2]
    verify = root / "verify.html"
    _command(["verify", str(first), str(second), "-m", str(model), "--html", str(verify)])
    evaluation = root / "evaluation.html"
    _command(["evaluate", str(model), str(data), "--html", str(evaluation)])
    return {"similar": similar, "verify": verify, "evaluate": evaluation}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("screens")
    model = _real_model()
    if model is not None and all(folder.is_dir() for folder in REAL_DATA):
        return _real_reports(root, model)
    return _synthetic_reports(root)


def _screenshot(html: Path, png: Path) -> np.ndarray:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={png.parent / 'chromium-profile'}",
        f"--screenshot={png}",
        "--window-size=1200,1600",
        html.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert png.is_file(), f"Chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    return np.asarray(Image.open(png).convert("RGB"))


def _save_small(png: Path, target: Path) -> None:
    """Half size, 256 colours: a screenshot for the README well under `DOCS_LIMIT`."""
    image = Image.open(png).convert("RGB")
    image = image.resize((image.width * 2 // 3, image.height * 2 // 3), Image.Resampling.LANCZOS)
    for colours in (256, 128, 64):
        # Octree keeps the few exact colours of plots and text that median cut blends away.
        small = image.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        small.save(target, optimize=True)
        if target.stat().st_size < DOCS_LIMIT:
            return
    raise AssertionError(f"{target} is {target.stat().st_size:,} bytes even at 64 colours")


@pytest.mark.parametrize("kind", ["similar", "verify", "evaluate"])
def test_report_renders_in_a_real_browser(kind: str, reports: dict[str, Path], tmp_path: Path) -> None:
    png = tmp_path / f"report-{kind}.png"
    pixels = _screenshot(reports[kind], png)
    assert pixels.shape == (1600, 1200, 3)
    grey = pixels.mean(axis=2)
    # Not blank: ink covers a fair part of the page and the pixels vary.
    assert grey.std() > 20, grey.std()
    assert (grey < 200).mean() > 0.02
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    if kind in ("similar", "verify"):
        assert colours > 5000, f"paintings missing? only {colours} colours"
    # The model's blue (#0072b2) is drawn: the ROC curve, the calibration curve or the vote bars.
    blue = np.abs(pixels.astype(int) - [0, 114, 178]).sum(axis=2) < 30
    assert blue.sum() > 300
    folder = os.environ.get("REPORT_SCREENSHOTS")
    if folder:
        target = Path(folder) / png.name
        target.parent.mkdir(parents=True, exist_ok=True)
        _save_small(png, target)
