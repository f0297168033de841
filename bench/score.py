"""Score at Kaggle scale: a pairs CSV + cached embeddings -> the submission CSV, seconds and peak memory.

`measure` times `painter_match.inference.scoring.engine.score_pairs` (the engine behind
``painter-match score --embeddings``) and `measure_pandas` the straightforward pandas version kept
beside it (`score_pairs_pandas_reference`, here: ``read_csv``, map names, compute, ``to_csv``); each
runs in its own child, so each peak RSS is its own (imports included). With ``profile`` the engine's
phases are also timed one at a time on the same file (parse the CSV with Arrow, look names up and
compute the cosines, format and write the CSV), which says which one bounds the overlapped pipeline.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.runner import peak_rss_mb


def _inputs(names_json: str, vectors_npy: str) -> tuple[list[str], np.ndarray, Any]:
    from painter_match.inference.calibration import Calibration

    names = json.loads(Path(names_json).read_text())
    # Untrained values: any calibration costs the same to apply.
    calibration = Calibration(slope=10.0, intercept=-5.0, threshold=0.5, positive_share=0.5, pairs=0)
    return names, np.load(vectors_npy), calibration


def _phases(
    pairs_csv: str, names: list[str], vectors: np.ndarray, calibration: Any, out: Path
) -> dict[str, float]:
    """Seconds of each phase of scoring, run one after the other (no overlap)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from painter_match.inference.similarity import pairwise_cosine

    t0 = time.perf_counter()
    table = pa_csv.read_csv(
        pairs_csv,
        convert_options=pa_csv.ConvertOptions(
            column_types={"index": pa.int64()}, auto_dict_encode=True, auto_dict_max_cardinality=1 << 20
        ),
    )
    t1 = time.perf_counter()
    lookup = {n: i for i, n in enumerate(names)}
    rows = []
    for column in ("image1", "image2"):
        chunks = []
        for chunk in table.column(column).chunks:
            dictionary = np.array([lookup.get(n, 0) for n in chunk.dictionary.to_pylist()], dtype=np.int64)
            chunks.append(dictionary[chunk.indices.to_numpy(zero_copy_only=False)])
        rows.append(np.concatenate(chunks))
    t2 = time.perf_counter()
    probability = calibration.probability(pairwise_cosine(vectors, rows[0], rows[1]))
    t3 = time.perf_counter()
    result = pa.table(
        {"index": table.column("index"), "sameArtist": pa.array(probability.astype(np.float64))}
    )
    pa_csv.write_csv(result, str(out))
    t4 = time.perf_counter()
    return {
        "parse CSV (Arrow)": t1 - t0,
        "names -> rows": t2 - t1,
        "cosine + calibration": t3 - t2,
        "format + write CSV": t4 - t3,
    }


def measure(
    pairs_csv: str, names_json: str, vectors_npy: str, pairs: int, warmup: int, repeats: int, profile: bool
) -> dict[str, Any]:
    """painter-match's streaming scorer: median seconds over ``repeats`` runs after ``warmup``."""
    from painter_match.inference.scoring.engine import score_pairs

    names, vectors, calibration = _inputs(names_json, vectors_npy)
    with tempfile.TemporaryDirectory(prefix="painter-match-bench-score-") as tmp:
        out = Path(tmp) / "submission.csv"

        def run() -> float:
            begin = time.perf_counter()
            summary = score_pairs(
                pairs_csv, out, names=names, vectors=vectors, calibration=calibration, quiet=True
            )
            if summary.pairs != pairs:
                raise RuntimeError(f"scored {summary.pairs} pairs, expected {pairs}")
            return time.perf_counter() - begin

        for _ in range(warmup):
            run()
        times = [run() for _ in range(max(1, repeats))]
        out_bytes = out.stat().st_size
        row_peak = peak_rss_mb()  # before the profile pass, which holds the whole table
        phases = (
            _phases(pairs_csv, names, vectors, calibration, Path(tmp) / "phases.csv") if profile else None
        )
    median = statistics.median(times)
    row: dict[str, Any] = {
        "stage": "score",
        "name": "painter-match score_pairs",
        "engine": "painter-match",
        "value": pairs / median,
        "unit": "pairs/s",
        "pairs": pairs,
        "images": len(names),
        "dim": int(vectors.shape[1]),
        "median_s": median,
        "times_s": times,
        "output_mb": round(out_bytes / 1e6, 1),
        "input_mb": round(os.path.getsize(pairs_csv) / 1e6, 1),
        "peak_rss_mb": round(row_peak, 1),
    }
    if phases is not None:
        row["profile_s"] = phases
    return row


def measure_pandas(
    pairs_csv: str, names_json: str, vectors_npy: str, pairs: int, repeats: int
) -> dict[str, Any]:
    """The straightforward pandas version on the same file: median seconds (no warm-up: it is slow)."""
    names, vectors, calibration = _inputs(names_json, vectors_npy)
    with tempfile.TemporaryDirectory(prefix="painter-match-bench-pandas-") as tmp:
        out = Path(tmp) / "submission.csv"
        times = []
        for _ in range(max(1, repeats)):
            begin = time.perf_counter()
            written = score_pairs_pandas_reference(
                pairs_csv, out, names=names, vectors=vectors, calibration=calibration
            )
            times.append(time.perf_counter() - begin)
            if written != pairs:
                raise RuntimeError(f"pandas wrote {written} pairs, expected {pairs}")
    median = statistics.median(times)
    return {
        "stage": "score",
        "name": "pandas read_csv/map/to_csv",
        "engine": "pandas",
        "value": pairs / median,
        "unit": "pairs/s",
        "pairs": pairs,
        "median_s": median,
        "times_s": times,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def score_pairs_pandas_reference(
    pairs_csv: str | Path,
    out_csv: str | Path,
    *,
    names: Sequence[str],
    vectors: np.ndarray,
    calibration: Any,
    fill_value: float = 0.5,
    batch_rows: int = 100_000,
) -> int:
    """The straightforward way, kept as the benchmark's baseline: pandas end to end.

    Reads the whole file with ``pd.read_csv``, maps names to rows with a Series, scores in
    batches (gathering every pair at once would need 45 GB at Kaggle scale) and writes with
    ``to_csv``. No validation beyond what pandas does; not for users, which is why it lives in
    the bench rather than the package.

    Returns:
        The number of pairs written.
    """
    import pandas as pd

    frame = pd.read_csv(pairs_csv)
    row_of = pd.Series(np.arange(len(names)), index=pd.Index(list(names)))
    rows1 = frame["image1"].map(row_of)
    rows2 = frame["image2"].map(row_of)
    absent = (rows1.isna() | rows2.isna()).to_numpy()
    first = rows1.fillna(0).to_numpy(dtype=np.int64)
    second = rows2.fillna(0).to_numpy(dtype=np.int64)
    cosine = np.empty(len(frame), dtype=np.float32)
    for start in range(0, len(frame), batch_rows):
        stop = start + batch_rows
        cosine[start:stop] = np.einsum("ij,ij->i", vectors[first[start:stop]], vectors[second[start:stop]])
    probability = calibration.probability(cosine)
    probability[absent] = fill_value
    pd.DataFrame({"index": frame["index"], "sameArtist": probability}).to_csv(
        out_csv, index=False, float_format="%.6g"
    )
    return len(frame)
