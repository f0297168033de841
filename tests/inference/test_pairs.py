"""Tests for the pairs scoring engine: output format, streaming, bad input, atomic writes, AUC."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.pairs_synth import make_kaggle_scale_pairs
from bench.score import score_pairs_pandas_reference
from painter_match.atomic import TEMP_TAG
from painter_match.errors import DataError, OutputError
from painter_match.inference.calibration import Calibration
from painter_match.inference.scoring.engine import ScoreSummary, score_pairs, unique_images
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc

CALIBRATION = Calibration(slope=6.0, intercept=-1.5, threshold=0.25, positive_share=0.5, pairs=100)
NAMES = [f"{i}.jpg" for i in (11, 205, 3070, 48, 5)] + ["sub/folder/77.jpg"]


def _vectors(count: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


VECTORS = _vectors(len(NAMES))


def _write_pairs(
    path: Path, rows: list[tuple[object, str, str]], header: str = "index,image1,image2"
) -> Path:
    lines = [header] + [f"{i},{a},{b}" for i, a, b in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _random_rows(count: int, seed: int = 1, names: list[str] = NAMES) -> list[tuple[object, str, str]]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(count) * 3 + 7  # indices neither sorted nor starting at 0
    pairs = rng.integers(0, len(names), (count, 2))
    return [(int(order[k]), names[a], names[b]) for k, (a, b) in enumerate(pairs)]


def _expected(rows: list[tuple[object, str, str]], fill: float = 0.5) -> dict[int, float]:
    row_of = {n: i for i, n in enumerate(NAMES)}
    expected = {}
    for index, first, second in rows:
        if first in row_of and second in row_of:
            cosine = float(np.dot(VECTORS[row_of[first]].astype(np.float64), VECTORS[row_of[second]]))
            expected[int(str(index))] = float(CALIBRATION.probability(cosine))
        else:
            expected[int(str(index))] = fill
    return expected


def _score(pairs: Path, out: Path, **kwargs: object) -> ScoreSummary:
    options: dict[str, object] = {
        "names": NAMES,
        "vectors": VECTORS,
        "calibration": CALIBRATION,
        "quiet": True,
    }
    options.update(kwargs)
    return score_pairs(pairs, out, **options)  # type: ignore[arg-type]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_TAG in p.name or p.name.endswith(".tmp"))


# --- output -------------------------------------------------------------------------------


def test_output_is_kaggle_format_in_input_order_with_calibrated_probabilities(tmp_path: Path) -> None:
    rows = _random_rows(200)
    pairs = _write_pairs(tmp_path / "submission_info.csv", rows)
    summary = _score(pairs, tmp_path / "submission.csv")

    text = (tmp_path / "submission.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "index,sameArtist"
    written = [line.split(",") for line in lines[1:]]
    assert [int(i) for i, _ in written] == [int(str(r[0])) for r in rows]
    expected = _expected(rows)
    for index, value in written:
        assert abs(float(value) - expected[int(index)]) <= 1e-6
        assert len(value.replace("0.", "", 1).lstrip("0").replace(".", "")) <= 6  # six significant digits
    assert summary.pairs == 200 and summary.filled == 0 and summary.auc is None
    assert summary.to_dict()["pairs"] == 200 and summary.pairs_per_second > 0
    assert _leftovers(tmp_path) == []


def test_small_chunks_give_byte_identical_output(tmp_path: Path) -> None:
    rows = _random_rows(300, seed=4)
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    _score(pairs, tmp_path / "one.csv")
    _score(pairs, tmp_path / "many.csv", chunk_bytes=97)  # a few rows per block, rows split across
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()


@pytest.mark.parametrize("grouped", [True, False])
def test_pairwise_cosine_matches_a_loop_on_both_paths(grouped: bool) -> None:
    vectors = _vectors(40, dim=24, seed=5)
    rng = np.random.default_rng(6)
    first = np.repeat(rng.permutation(40), 50) if grouped else rng.integers(0, 40, 2000)
    second = rng.integers(0, 40, len(first))
    got = pairwise_cosine(vectors, first, second)
    want = [float(np.dot(vectors[a].astype(np.float64), vectors[b])) for a, b in zip(first, second)]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got.dtype == np.float32


def test_names_with_spaces_and_extra_columns_and_quotes_are_accepted(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        'image2,index,note,image1\n 205.jpg ,3,"a, b",11.jpg\n"sub/folder/77.jpg",1,x,48.jpg\n',
        encoding="utf-8",
    )
    _score(pairs, tmp_path / "out.csv")
    got = pd.read_csv(tmp_path / "out.csv")
    expected = _expected([(3, "11.jpg", "205.jpg"), (1, "48.jpg", "sub/folder/77.jpg")])
    assert list(got["index"]) == [3, 1]
    np.testing.assert_allclose(got["sameArtist"], [expected[3], expected[1]], atol=1e-6)


# --- bad input ----------------------------------------------------------------------------


def test_missing_file_and_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        _score(tmp_path / "nope.csv", tmp_path / "out.csv")
    pairs = _write_pairs(tmp_path / "pairs.csv", [(0, "11.jpg", "5.jpg")], header="index,first,image2")
    with pytest.raises(
        DataError, match=r"pairs\.csv: missing column\(s\) image1; found index, first, image2"
    ):
        _score(pairs, tmp_path / "out.csv")


@pytest.mark.parametrize("content", ["", "\n", "index,image1,image2\n", "index,image1,image2"])
def test_empty_files_are_refused(tmp_path: Path, content: str) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs\.csv: (the file is empty|no pairs listed)"):
        _score(pairs, tmp_path / "out.csv")
    with pytest.raises(DataError, match=r"pairs\.csv"):
        unique_images(pairs)
    assert not (tmp_path / "out.csv").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", ["x", "", "1.5", "99999999999999999999"])
def test_non_integer_index_names_the_row(tmp_path: Path, bad: str) -> None:
    rows = _random_rows(40)
    rows[31] = (bad, rows[31][1], rows[31][2])
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    message = re.escape(f"pairs.csv: row 33 has index={bad!r}; expected an integer")
    with pytest.raises(DataError, match=message):
        _score(pairs, tmp_path / "out.csv", chunk_bytes=120)
    with pytest.raises(DataError, match="row 33"):
        unique_images(pairs, chunk_bytes=120)


def test_negative_index_names_the_row(tmp_path: Path) -> None:
    pairs = _write_pairs(tmp_path / "pairs.csv", [(0, "11.jpg", "5.jpg"), (-4, "11.jpg", "5.jpg")])
    with pytest.raises(DataError, match="row 3 has index=-4; expected an integer from 0"):
        _score(pairs, tmp_path / "out.csv")


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 90])
@pytest.mark.parametrize("shuffled", [False, True])
def test_duplicate_index_names_the_second_row(tmp_path: Path, chunk_bytes: int, shuffled: bool) -> None:
    indices = list(range(60))
    if shuffled:
        indices = [int(i) for i in np.random.default_rng(2).permutation(60)]
    repeated = indices[7]
    indices.insert(45, repeated)
    rows = [(i, NAMES[i % 6], NAMES[(i + 1) % 6]) for i in indices]
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    with pytest.raises(DataError, match=f"row 47 repeats index {repeated}; each index may appear once"):
        _score(pairs, tmp_path / "out.csv", chunk_bytes=chunk_bytes)
    with pytest.raises(DataError, match="row 47 repeats"):
        unique_images(pairs, chunk_bytes=chunk_bytes)


def test_large_sparse_indices_are_fine(tmp_path: Path) -> None:
    rows = [(2_000_000_000, "11.jpg", "5.jpg"), (3, "48.jpg", "5.jpg"), (1_999_999_999, "5.jpg", "48.jpg")]
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    assert _score(pairs, tmp_path / "out.csv").pairs == 3


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../secret.jpg", "points outside the images folder"),
        ("sub/../../x.jpg", "points outside the images folder"),
        ("..", "points outside the images folder"),
        ("/etc/passwd", "is an absolute path"),
        ("C:\\\\pics\\\\1.jpg", "is an absolute path"),
        ("\\\\server\\\\x.jpg", "is an absolute path"),
        ('""', "is empty"),
    ],
)
@pytest.mark.parametrize("missing", ["fill", "error"])
def test_names_that_escape_the_images_folder_are_refused(
    tmp_path: Path, name: str, why: str, missing: str
) -> None:
    rows = _random_rows(30)
    rows[20] = (rows[20][0], rows[20][1], name)
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    with pytest.raises(DataError, match=f"pairs\\.csv: row 22 names .*, which {why}"):
        _score(pairs, tmp_path / "out.csv", missing=missing, chunk_bytes=100)
    with pytest.raises(DataError, match=f"row 22 names .*, which {why}"):
        unique_images(pairs)


def test_missing_images_are_filled_by_default_and_reported(tmp_path: Path) -> None:
    rows = _random_rows(50)
    rows[3] = (rows[3][0], "gone.jpg", rows[3][2])
    rows[40] = (rows[40][0], rows[40][1], "unreadable.jpg")
    rows[41] = (rows[41][0], "gone.jpg", "gone.jpg")
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    summary = _score(pairs, tmp_path / "out.csv", fill_value=0.25, chunk_bytes=200)
    assert summary.filled == 3
    assert summary.missing_images == 2
    assert summary.missing_examples == ("gone.jpg", "unreadable.jpg")
    got = pd.read_csv(tmp_path / "out.csv")
    expected = _expected(rows, fill=0.25)
    np.testing.assert_allclose(got["sameArtist"], [expected[int(i)] for i in got["index"]], atol=1e-6)
    assert summary.to_dict()["missing_examples"] == ["gone.jpg", "unreadable.jpg"]


def test_missing_images_stop_the_run_when_asked(tmp_path: Path) -> None:
    rows = _random_rows(50)
    rows[40] = (rows[40][0], rows[40][1], "unreadable.jpg")
    rows[44] = (rows[44][0], "gone.jpg", rows[44][2])
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    with pytest.raises(DataError, match=r"row 42 names 'unreadable\.jpg', which has no embedding"):
        _score(pairs, tmp_path / "out.csv", missing="error")
    assert not (tmp_path / "out.csv").exists() and _leftovers(tmp_path) == []


def test_bad_arguments(tmp_path: Path) -> None:
    pairs = _write_pairs(tmp_path / "pairs.csv", _random_rows(5))
    with pytest.raises(ValueError, match="vectors must be"):
        _score(pairs, tmp_path / "out.csv", vectors=VECTORS[:3])
    with pytest.raises(ValueError, match="distinct"):
        _score(pairs, tmp_path / "out.csv", names=NAMES[:-1] + NAMES[:1])
    with pytest.raises(ValueError, match="missing must be"):
        _score(pairs, tmp_path / "out.csv", missing="skip")
    with pytest.raises(OutputError, match="absent does not exist"):
        _score(pairs, tmp_path / "absent" / "out.csv")


# --- atomic output ------------------------------------------------------------------------


def test_an_error_mid_way_leaves_no_output_and_no_temporary_file(tmp_path: Path) -> None:
    rows = _random_rows(400)
    rows.append((rows[0][0], "11.jpg", "5.jpg"))  # the last row repeats the first index
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    with pytest.raises(DataError, match="row 402 repeats index"):
        _score(pairs, tmp_path / "out.csv", chunk_bytes=256)  # many blocks written before it
    assert not (tmp_path / "out.csv").exists()
    assert _leftovers(tmp_path) == []


def test_a_failed_run_does_not_clobber_an_existing_submission(tmp_path: Path) -> None:
    target = tmp_path / "submission.csv"
    target.write_text("index,sameArtist\n0,0.9\n", encoding="utf-8")
    rows = _random_rows(100)
    rows[90] = ("oops", rows[90][1], rows[90][2])
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    with pytest.raises(DataError, match="row 92"):
        _score(pairs, target, chunk_bytes=128)
    assert target.read_text(encoding="utf-8") == "index,sameArtist\n0,0.9\n"
    assert _leftovers(tmp_path) == []


class _InterruptedCalibration(Calibration):
    """A calibration that is interrupted (Ctrl-C) on its third block."""

    def probability(self, similarity: object) -> np.ndarray:
        calls = self.__dict__.setdefault("_calls", [])
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return super().probability(similarity)  # type: ignore[arg-type]


def test_an_interrupted_run_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "submission.csv"
    target.write_text("old\n", encoding="utf-8")
    pairs = _write_pairs(tmp_path / "pairs.csv", _random_rows(300))
    interrupted = _InterruptedCalibration(6.0, -1.5, 0.25, 0.5, 100)
    with pytest.raises(KeyboardInterrupt):
        _score(pairs, target, calibration=interrupted, chunk_bytes=128)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert _leftovers(tmp_path) == []


def test_a_successful_run_replaces_the_target_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "submission.csv"
    target.write_text("old\n", encoding="utf-8")
    pairs = _write_pairs(tmp_path / "pairs.csv", _random_rows(10))
    _score(pairs, target)
    assert target.read_text(encoding="utf-8").startswith("index,sameArtist\n")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


# --- unique images ------------------------------------------------------------------------


def test_unique_images_lists_each_name_once_sorted(tmp_path: Path) -> None:
    rows = [
        (0, "5.jpg", "11.jpg"),
        (1, " 11.jpg", "sub/a.jpg"),
        (2, "5.jpg", "48.jpg"),
        (3, "48.jpg", "5.jpg"),
    ]
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    assert unique_images(pairs) == ["11.jpg", "48.jpg", "5.jpg", "sub/a.jpg"]
    assert unique_images(pairs, chunk_bytes=40) == ["11.jpg", "48.jpg", "5.jpg", "sub/a.jpg"]


def test_unique_images_refuses_a_symlink_out_of_the_images_folder(tmp_path: Path) -> None:
    images = tmp_path / "test"
    images.mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (images / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    pairs = _write_pairs(tmp_path / "pairs.csv", [(0, "5.jpg", "11.jpg"), (1, "5.jpg", "link.jpg")])
    assert unique_images(pairs) == ["11.jpg", "5.jpg", "link.jpg"]
    with pytest.raises(DataError, match=r"row 3 names 'link\.jpg', which leads outside the images folder"):
        unique_images(pairs, images_dir=images)


# --- solution and AUC ---------------------------------------------------------------------


def _write_solution(path: Path, labels: dict[int, object]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["index", "sameArtist"])
        for index, label in labels.items():
            writer.writerow([index, label])
    return path


def test_auc_with_a_solution_equals_roc_auc_of_the_written_file(tmp_path: Path) -> None:
    rows = _random_rows(300, seed=9)
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    rng = np.random.default_rng(3)
    labels = {int(str(r[0])): int(rng.integers(0, 2)) for r in reversed(rows)}  # another order
    solution = _write_solution(tmp_path / "solution.csv", labels)
    summary = _score(pairs, tmp_path / "out.csv", solution=solution, chunk_bytes=300)

    written = pd.read_csv(tmp_path / "out.csv")
    truth = pd.read_csv(solution)
    joined = written.merge(truth, on="index")
    assert summary.auc == pytest.approx(roc_auc(joined["sameArtist_y"], joined["sameArtist_x"]), abs=1e-12)
    assert summary.auc_pairs == 300


def test_auc_counts_ties_as_half_like_metrics_roc_auc(tmp_path: Path) -> None:
    # Few distinct images make many exactly tied scores, and a missing image adds fill values.
    names = NAMES[:3]
    rows = _random_rows(400, seed=11, names=names + ["gone.jpg"])
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    rng = np.random.default_rng(12)
    labels = {int(str(r[0])): int(rng.integers(0, 2)) for r in rows[:350]}  # some pairs unlabelled
    solution = _write_solution(tmp_path / "solution.csv", labels)
    summary = _score(pairs, tmp_path / "out.csv", names=names, vectors=VECTORS[:3], solution=solution)
    joined = pd.read_csv(tmp_path / "out.csv").merge(pd.read_csv(solution), on="index")
    assert summary.auc_pairs == 350 and joined["sameArtist_x"].nunique() < 12
    assert summary.auc == pytest.approx(roc_auc(joined["sameArtist_y"], joined["sameArtist_x"]), abs=1e-12)


def test_solution_problems_are_named(tmp_path: Path) -> None:
    rows = _random_rows(20)
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    known = [int(str(r[0])) for r in rows]
    stranger = _write_solution(tmp_path / "stranger.csv", {known[0]: 1, known[1]: 0, 99999: 1})
    with pytest.raises(
        DataError, match=r"stranger\.csv: row 4 has index 99999, which .*pairs\.csv does not list"
    ):
        _score(pairs, tmp_path / "out.csv", solution=stranger)
    bad_label = _write_solution(tmp_path / "label.csv", {known[0]: 1, known[1]: "maybe"})
    with pytest.raises(DataError, match=r"label\.csv: row 3 has sameArtist='maybe'; expected 0 or 1"):
        _score(pairs, tmp_path / "out.csv", solution=bad_label)
    one_class = _write_solution(tmp_path / "one.csv", {known[0]: 1, known[1]: "True"})
    with pytest.raises(DataError, match=r"one\.csv: cannot compute ROC AUC"):
        _score(pairs, tmp_path / "out.csv", solution=one_class)
    with pytest.raises(DataError, match="missing column"):
        _score(pairs, tmp_path / "out.csv", solution=pairs)


# --- generator and reference --------------------------------------------------------------


def test_generator_writes_a_kaggle_shaped_file_with_its_solution(tmp_path: Path) -> None:
    names = make_kaggle_scale_pairs(tmp_path / "pairs.csv", 5000, 40, seed=2, solution=tmp_path / "sol.csv")
    frame = pd.read_csv(tmp_path / "pairs.csv")
    assert list(frame.columns) == ["index", "image1", "image2"]
    assert list(frame["index"]) == list(range(5000))
    assert set(frame["image1"]) | set(frame["image2"]) == set(names) and len(names) == 40
    assert (frame["image1"] != frame["image2"]).all()
    assert (frame["image1"] != frame["image1"].shift()).sum() == 40  # each image's pairs together
    solution = pd.read_csv(tmp_path / "sol.csv")
    assert list(solution["index"]) == list(range(5000)) and set(solution["sameArtist"]) == {0, 1}
    assert unique_images(tmp_path / "pairs.csv") == sorted(names)
    again = make_kaggle_scale_pairs(tmp_path / "again.csv", 5000, 40, seed=2, order="random")
    assert again == names


def test_pandas_reference_agrees_with_the_engine(tmp_path: Path) -> None:
    rows = _random_rows(250)
    rows[5] = (rows[5][0], "gone.jpg", rows[5][2])
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    _score(pairs, tmp_path / "fast.csv")
    count = score_pairs_pandas_reference(
        pairs, tmp_path / "slow.csv", names=NAMES, vectors=VECTORS, calibration=CALIBRATION
    )
    fast, slow = pd.read_csv(tmp_path / "fast.csv"), pd.read_csv(tmp_path / "slow.csv")
    assert count == 250 and list(fast["index"]) == list(slow["index"])
    np.testing.assert_allclose(fast["sameArtist"], slow["sameArtist"], atol=1e-6)


def test_unreadable_rows_are_named(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_bytes(b"index,image1,image2\n0,11.jpg,5.jpg\n1,11\xff.jpg,5.jpg\n")
    with pytest.raises(DataError, match="row 3 has image1=.*; expected UTF-8 text"):
        _score(pairs, tmp_path / "out.csv")
    pairs.write_bytes(b"index,image1,image2\n0,11.jpg,5.jpg\n1,11.jpg\n")
    with pytest.raises(
        DataError, match=r"pairs\.csv: row 3 has 2 fields, the header 3 \(index,image1,image2\): '1,11\.jpg'"
    ):
        unique_images(pairs)


def test_bom_and_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_bytes(b"\xef\xbb\xbfindex,image1,image2\r\n0,11.jpg,5.jpg\r\n1,48.jpg,5.jpg\r\n")
    assert unique_images(pairs) == ["11.jpg", "48.jpg", "5.jpg"]
    _score(pairs, tmp_path / "out.csv")
    assert pd.read_csv(tmp_path / "out.csv")["index"].tolist() == [0, 1]
