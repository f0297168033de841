"""Fault suite, round 2: property-based tests of the readers of what users hand over (issue 24).

Random valid files must read back exactly; random mutations of them (bytes flipped, inserted,
dropped, the file cut short; fields given other types and values) must give either a one-line
error of the project's own type naming the file, or a result that keeps every promise the reader
makes (checked values, not just "no exception"). Never a traceback, never a wrong value let
through. The example counts are modest so the suite stays fast; Hypothesis keeps the failures it
finds in its database and tries them first next time.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx_models import tiny_info

hypothesis = pytest.importorskip("hypothesis", reason='needs hypothesis: pip install "painter-match[dev]"')
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from painter_match.data.images import name_problem, normalise_name  # noqa: E402
from painter_match.data.pair_files import read_solution, read_submission_info  # noqa: E402
from painter_match.data.views import Views  # noqa: E402
from painter_match.errors import DataError, PainterMatchError  # noqa: E402
from painter_match.inference.embeddings import (  # noqa: E402
    Embeddings,
    EmbeddingSource,
    load_embeddings,
    save_embeddings,
)
from painter_match.inference.model import MAX_EMBEDDING_DIM, MAX_INPUT_SIZE, ModelError, ModelInfo  # noqa: E402
from painter_match.inference.reference.set import (  # noqa: E402
    MAX_K,
    Combiner,
    Projection,
    Reference,
    load_reference,
    save_reference,
)

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _one_line(error: BaseException, path: Path | str) -> None:
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text, text
    assert str(path) in text, text


# --- mutations of bytes --------------------------------------------------------------------------

_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**9), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**9), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("drop"), st.integers(0, 10**9), st.integers(1, 16)),
    st.tuples(st.just("cut"), st.integers(0, 10**9), st.just(0)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, Any]]) -> bytes:
    out = bytearray(data)
    for kind, where, what in mutations:
        if not out:
            break
        at = where % len(out)
        if kind == "flip":
            out[at] ^= what
        elif kind == "insert":
            out[at:at] = what
        elif kind == "drop":
            del out[at : at + what]
        else:
            del out[at:]
    return bytes(out)


# --- the pairs reader ----------------------------------------------------------------------------

_NAME = st.text(alphabet="abcxyz0123456789_-./ é", min_size=1, max_size=12).filter(
    lambda n: name_problem(n) is None and n.strip() == n and n.strip() != "" and "," not in n
)


@st.composite
def _pairs_files(draw: st.DrawFn) -> tuple[str, list[tuple[int, str, str]]]:
    names = draw(st.lists(_NAME.map(lambda n: n + ".jpg"), min_size=1, max_size=6))
    indices = draw(st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=12, unique=True))
    rows = [(i, draw(st.sampled_from(names)), draw(st.sampled_from(names))) for i in indices]
    text = "index,image1,image2\n" + "".join(f"{i},{a},{b}\n" for i, a, b in rows)
    return text, rows


@FAST
@given(_pairs_files())
def test_a_valid_pairs_file_reads_back_exactly(case: tuple[str, list[tuple[int, str, str]]]) -> None:
    text, rows = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.csv"
        path.write_text(text, encoding="utf-8")
        table = read_submission_info(path)
    assert table["index"].tolist() == [i for i, _, _ in rows]
    assert table["image1"].tolist() == [normalise_name(a) for _, a, _ in rows]
    assert table["image2"].tolist() == [normalise_name(b) for _, _, b in rows]


@FAST
@given(_pairs_files(), st.lists(_MUTATION, min_size=1, max_size=4))
def test_a_mutated_pairs_file_is_one_line_or_checked_rows(
    case: tuple[str, list[tuple[int, str, str]]], mutations: list[tuple[str, int, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.csv"
        path.write_bytes(_mutate(case[0].encode("utf-8"), mutations))
        try:
            table = read_submission_info(path)
        except DataError as error:
            _one_line(error, path)
            return
    # Whatever was accepted keeps the reader's promises: each index a distinct integer in
    # range, each name a usable relative name in its one spelling.
    index = table["index"].tolist()
    assert len(set(index)) == len(index) and all(0 <= i <= 2**31 - 1 for i in index)
    for column in ("image1", "image2"):
        for name in table[column]:
            assert name_problem(name) is None and normalise_name(name) == name


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["0", "1", "true", "False"])), max_size=10),
    st.lists(_MUTATION, max_size=3),
)
def test_a_solution_file_is_one_line_or_labels_of_zero_and_one(
    rows: list[tuple[int, str]], mutations: list[tuple[str, int, Any]]
) -> None:
    text = "index,sameArtist\n" + "".join(f"{i},{label}\n" for i, label in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "solution.csv"
        path.write_bytes(_mutate(text.encode(), mutations))
        try:
            table = read_solution(path)
        except DataError as error:
            _one_line(error, path)
            return
    assert set(table["sameArtist"].tolist()) <= {0, 1}
    assert table["index"].is_unique and (table["index"] >= 0).all()
    if not mutations:
        unique = {i for i, _ in rows}
        if len(unique) == len(rows):
            expected = {i: int(label in ("1", "true")) for i, label in rows}
            assert dict(zip(table["index"], table["sameArtist"])) == expected


# --- the embeddings loader ----------------------------------------------------------------------

_SOURCE = EmbeddingSource(tiny_info(dim=4), Views())


def _embeddings(count: int, seed: int) -> Embeddings:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    paths = [f"sub/{i}.jpg" for i in range(count)]
    return Embeddings(paths=paths, vectors=vectors, source=_SOURCE, root="/data/paintings")


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def _rewrite(path: Path, arrays: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


# Arrays a damaged or hand-made file may hold where another is expected: every one is tried in
# every place (parametrised, not sampled, so that none is left out).
_ODD_ARRAYS = {
    "text": np.asarray("text"),
    "empty": np.zeros((0,), dtype=np.float32),
    "nan": np.full((3, 4), np.nan, dtype=np.float32),
    "wide": np.ones((3, 5), dtype=np.float64),
    "repeated names": np.asarray(["a.jpg", "a.jpg", "b.jpg"]),
    "leaving names": np.asarray(["../x.jpg", "b.jpg", "c.jpg"]),
    "absolute names": np.asarray(["/abs.jpg", "b.jpg", "c.jpg"]),
    "int pairs": np.arange(6, dtype=np.int64).reshape(3, 2),
    "k of n": np.asarray([1, 2], dtype=np.int64),
    "k beyond n": np.asarray([5, 2], dtype=np.int64),
    "json of a number": np.asarray('{"info": 3, "views": 3}'),
    "json list": np.asarray("[1, 2]"),
    "not json": np.asarray("not json"),
}


@FAST
@given(st.integers(1, 5), st.lists(_MUTATION, min_size=1, max_size=4))
def test_a_mutated_embeddings_file_is_one_line_or_consistent(
    count: int, mutations: list[tuple[str, int, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "e.npz"
        save_embeddings(path, _embeddings(count, count))
        path.write_bytes(_mutate(path.read_bytes(), mutations))
        _check_embeddings_load(path)


@pytest.mark.parametrize("value", list(_ODD_ARRAYS), ids=str)
@pytest.mark.parametrize("name", ["paths", "vectors", "model", "root", "stamps", "shard"])
def test_an_embeddings_file_with_an_odd_array_is_one_line_or_consistent(
    name: str, value: str, tmp_path: Path
) -> None:
    path = tmp_path / "e.npz"
    save_embeddings(path, replace(_embeddings(3, 1), stamps=np.zeros((3, 3), np.int64)))
    _rewrite(path, {**_arrays(path), name: _ODD_ARRAYS[value]})
    _check_embeddings_load(path)


def _check_embeddings_load(path: Path) -> None:
    try:
        loaded = load_embeddings(path)
    except DataError as error:
        _one_line(error, path)
        return
    assert loaded.vectors.dtype == np.float32 and loaded.vectors.shape == (len(loaded), 4)
    assert np.isfinite(loaded.vectors).all()
    assert len({normalise_name(p) for p in loaded.paths}) == len(loaded.paths)
    assert all(name_problem(p) is None for p in loaded.paths)
    assert loaded.stamps is None or loaded.stamps.shape == (len(loaded), 3)
    assert loaded.shard is None or 0 <= loaded.shard[0] < loaded.shard[1]


# --- the reference loader -----------------------------------------------------------------------


def _reference(count: int) -> Reference:
    vectors = np.eye(count, 4, dtype=np.float32) + 0.1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Reference(
        vectors=vectors,
        artist_ids=np.arange(count, dtype=np.int32) % 2,
        artists=["a", "b"],
        paths=[f"{i}.jpg" for i in range(count)],
        digests=[None] * count,
        source="model-x",
        combiner=Combiner(coefficients=(0.5,) * 7, positive_share=0.5, shrinkage=0.01),
    )


_JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
_COMBINER_FIELDS = [
    "k",
    "temperature",
    "unknown_similarity",
    "keep",
    "coefficients",
    "features",
    "near_duplicate",
    "shrinkage",
    "positive_share",
    "pairs",
    "report",
]


@FAST
@given(st.integers(2, 4), st.lists(_MUTATION, min_size=1, max_size=4))
def test_a_mutated_reference_file_is_one_line_or_in_range(
    count: int, mutations: list[tuple[str, int, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ref.npz"
        save_reference(path, _reference(count))
        path.write_bytes(_mutate(path.read_bytes(), mutations))
        _check_reference_load(path)


@FAST
@given(
    st.integers(2, 4), st.dictionaries(st.sampled_from(_COMBINER_FIELDS), _JSON_VALUE, min_size=1, max_size=3)
)
def test_a_reference_with_odd_settings_is_one_line_or_in_range(count: int, changes: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ref.npz"
        save_reference(path, _reference(count))
        arrays = _arrays(path)
        meta = json.loads(str(arrays["meta"][()]))
        meta["combiner"].update(changes)
        _rewrite(path, {**arrays, "meta": np.asarray(json.dumps(meta))})
        _check_reference_load(path)


@pytest.mark.parametrize("value", list(_ODD_ARRAYS), ids=str)
@pytest.mark.parametrize(
    "name",
    ["vectors", "artist_ids", "artists", "paths", "digests", "meta", "projection_mean", "projection_matrix"],
)
def test_a_reference_with_an_odd_array_is_one_line_or_in_range(name: str, value: str, tmp_path: Path) -> None:
    path = tmp_path / "ref.npz"
    reference = _reference(3)
    projection = Projection(np.zeros(4, np.float32), np.eye(4, dtype=np.float32))
    save_reference(path, replace(reference, projection=projection))
    _rewrite(path, {**_arrays(path), name: _ODD_ARRAYS[value]})
    _check_reference_load(path)


def _check_reference_load(path: Path) -> None:
    try:
        reference = load_reference(path)
    except DataError as error:
        _one_line(error, path)
        return
    assert reference.vectors.dtype == np.float32 and np.isfinite(reference.vectors).all()
    assert reference.vectors.shape[0] == len(reference.paths) == len(reference.digests)
    ids = reference.artist_ids
    assert len(ids) == 0 or (0 <= ids.min() and ids.max() < len(reference.artists))
    combiner = reference.combiner
    if combiner is not None:
        assert 1 <= combiner.k <= MAX_K and 1 <= combiner.keep <= MAX_K
        assert math.isfinite(combiner.temperature) and combiner.temperature > 0
        assert -1 <= combiner.unknown_similarity <= 1 + 1e-5 and -1 <= combiner.near_duplicate
        assert all(math.isfinite(c) for c in combiner.coefficients)
        assert 0 <= combiner.positive_share < 1 and combiner.pairs >= 0
    if reference.projection is not None:
        assert np.isfinite(reference.projection.matrix).all()


# --- the model-metadata reader ------------------------------------------------------------------

_METADATA_FIELDS = sorted(json.loads(tiny_info().to_json()))


@FAST
@given(st.dictionaries(st.sampled_from(_METADATA_FIELDS), _JSON_VALUE, min_size=1, max_size=3))
def test_model_metadata_with_odd_values_is_one_line_or_sane(changes: dict[str, Any]) -> None:
    document = {**json.loads(tiny_info().to_json()), **changes}
    _check_metadata(json.dumps(document))


@FAST
@given(st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_model_metadata_text_is_one_line_or_sane(mutations: list[tuple[str, int, Any]]) -> None:
    text = _mutate(tiny_info().to_json().encode(), mutations).decode("utf-8", errors="replace")
    _check_metadata(text)


def _check_metadata(text: str) -> None:
    try:
        info = ModelInfo.from_json(text, "m.onnx")
    except ModelError as error:
        _one_line(error, "m.onnx")
        return
    assert 0 < info.input_size <= MAX_INPUT_SIZE and 0 < info.embedding_dim <= MAX_EMBEDDING_DIM
    calibration = info.calibration
    for value in (calibration.slope, calibration.intercept, calibration.threshold):
        assert math.isfinite(value)
    assert 0 <= calibration.positive_share <= 1 and calibration.pairs >= 0
    assert 0 <= info.views.crops <= 64 and 1 <= info.views.crop_scale <= 16
    assert info.val_auc is None or math.isfinite(info.val_auc)
    assert isinstance(info.identity, str)
    # The identity and document round-trip: what is loaded is what an embeddings file records.
    assert ModelInfo.from_json(info.to_json(), "again").identity == info.identity


def test_the_loaders_raise_only_the_projects_errors() -> None:
    """The property tests above catch DataError and ModelError: both are one-line errors."""
    assert issubclass(DataError, PainterMatchError) and issubclass(ModelError, PainterMatchError)
    assert zipfile.BadZipFile is not None  # a damaged zip is one of the mutations exercised
