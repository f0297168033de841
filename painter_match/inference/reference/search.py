"""Each query's nearest reference paintings, in bounded memory, with self-matches left out.

`neighbours` scores queries against the reference block by block (never a ``Q x R`` matrix in
float64, at most ``block x R`` 4-byte scores at once) and keeps the k best of each row: the
maximum of each group of columns is taken first (one pass), and only the k best groups are
searched in full. Two ways to score a block:

- ``"exact"``: a float32 matrix product (numpy's BLAS).
- ``"int8"``: the reference quantized to int8 and each query to uint8, multiplied by ONNX
  Runtime's ``MatMulInteger`` (the VNNI kernels) and cut to the ``2k + 32`` best columns by its
  ``TopK``, in one small graph: measured 0.15 s against 0.45 s for the float32 product and its
  selection (838 queries x 80,000 paintings, 256-d, one core). Those candidates are scored
  again exactly in float32 and the k best kept, so the similarities returned are exact; only
  which paintings make the last places can differ from ``"exact"``, when the quantization error
  (at most 0.006 measured on unit vectors) reorders near-ties (the true 20 best were among the
  40 best candidates in every row measured). ``"auto"`` takes it for references of
  `INT8_MIN_REFERENCE` paintings or more.

A reference painting with the query's content digest (the same file), or at least
``near_duplicate`` similar, is never a neighbour; `Neighbours` counts both per query.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from painter_match.inference.reference.set import NEAR_DUPLICATE, Reference

Search = Literal["auto", "exact", "int8"]

# Bytes of scores held at once when no block size is given. Float32: 256 MiB is 838 queries
# against Kaggle's 80k training paintings, enough rows for the product to run at full speed.
# Int8: ONNX Runtime holds the int32 scores and TopK's working copy; 64 MiB (209 queries) was
# as fast as larger blocks (measured: 2.5 s for 6,000 queries at 128 or 256 rows, 3.2 s at 838
# rows) and kept the peak 177 MB above the inputs instead of 574 MB.
SIMILARITY_BUDGET = 256 << 20
INT8_SIMILARITY_BUDGET = 64 << 20
# "auto" quantizes from this many reference paintings: below it the whole search takes well
# under a second either way, and the exact one needs no second pass.
INT8_MIN_REFERENCE = 16_384
# Reference columns per group for the top-k search: a row costs R/64 + 64k reads, not R.
_GROUP = 64
# Approximate candidates rescored exactly per query, beyond 2k (see the module's docstring).
_CANDIDATES = 32


@dataclass(frozen=True)
class Neighbours:
    """Each query's nearest reference paintings, self-matches left out.

    Attributes:
        similarities: float32 ``[Q, k]``, best first; ``-inf`` where fewer than k remain.
        indices: int64 ``[Q, k]`` reference rows; -1 where fewer than k remain.
        same_content: int32 ``[Q]``: reference paintings left out for holding the query's own
            file (same content digest).
        near_duplicates: int32 ``[Q]``: further ones left out for a similarity of at least the
            near-duplicate threshold.
    """

    similarities: np.ndarray
    indices: np.ndarray
    same_content: np.ndarray
    near_duplicates: np.ndarray

    @property
    def queries_with_duplicates(self) -> int:
        """Queries that found themselves (or a near-duplicate) in the reference."""
        return int(((self.same_content > 0) | (self.near_duplicates > 0)).sum())

    def report(self) -> dict[str, int]:
        """Counts for a run's summary."""
        return {
            "queries": int(self.indices.shape[0]),
            "queries_with_duplicates": self.queries_with_duplicates,
            "queries_with_same_file": int((self.same_content > 0).sum()),
            "queries_with_near_duplicate": int((self.near_duplicates > 0).sum()),
        }


def neighbours(
    queries: np.ndarray,
    reference: Reference,
    k: int,
    *,
    query_digests: Sequence[str | None] | None = None,
    near_duplicate: float = NEAR_DUPLICATE,
    block: int | None = None,
    search: Search = "auto",
) -> Neighbours:
    """Top-k reference similarities of each query, by blocked matrix products.

    Similarities are cosines in the reference's search space (after its `Projection`, if it
    has one). Memory is one ``block x R`` matrix of 4-byte scores (by default as many rows as
    fit in `SIMILARITY_BUDGET`, `INT8_SIMILARITY_BUDGET` for the int8 search) plus the
    ``[Q, k]`` results.

    Args:
        queries: float32 ``[Q, D]`` unit vectors as embedded (the reference projects them).
        reference: the reference set (``D`` must match).
        k: neighbours per query (at least 1; beyond the reference's size the rest is padding).
        query_digests: each query's content digest (`reference.set.file_digest`), or None.
        near_duplicate: the similarity from which a reference painting counts as the query.
        block: queries per matrix product.
        search: ``"exact"``, ``"int8"`` or ``"auto"`` (see the module's docstring).

    Raises:
        ValueError: for a wrong shape, ``k < 1``, digests not one per query, or a bad option.
    """
    q = reference.project(queries)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if query_digests is not None and len(query_digests) != len(q):
        raise ValueError(f"query_digests must be [{len(q)}] (one per query), got {len(query_digests)}")
    if search not in ("auto", "exact", "int8"):
        raise ValueError(f"search must be 'auto', 'exact' or 'int8', got {search!r}")
    n_ref = len(reference)
    quantized = search == "int8" or (search == "auto" and n_ref >= INT8_MIN_REFERENCE)
    if block is None:
        budget = INT8_SIMILARITY_BUDGET if quantized else SIMILARITY_BUDGET
        block = int(min(4096, max(16, budget // (4 * max(n_ref, 1)))))
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    sims = np.full((len(q), k), -np.inf, dtype=np.float32)
    index = np.full((len(q), k), -1, dtype=np.int64)
    same = np.zeros(len(q), dtype=np.int32)
    near = np.zeros(len(q), dtype=np.int32)
    if n_ref == 0 or len(q) == 0:
        return Neighbours(sims, index, same, near)
    by_digest = reference.digest_rows() if query_digests is not None else {}
    searcher = (
        _Quantized(reference, min(k, n_ref))
        if quantized
        else _Exact(reference, min(k, n_ref), min(block, len(q)))
    )
    for start in range(0, len(q), block):
        stop = min(start + block, len(q))
        own: list[list[int] | None] = [None] * (stop - start)
        if by_digest and query_digests is not None:
            for row, digest in enumerate(query_digests[start:stop]):
                own[row] = by_digest.get(digest) if digest else None
                same[start + row] = len(own[row] or ())
        top_sims, top_index, near[start:stop] = searcher.top(q[start:stop], own, near_duplicate)
        sims[start:stop, : top_sims.shape[1]] = top_sims
        index[start:stop, : top_index.shape[1]] = np.where(np.isfinite(top_sims), top_index, -1)
    return Neighbours(sims, index, same, near)


def _best_columns(scores: np.ndarray, k: int, groups: int, grouped: bool) -> np.ndarray:
    """Columns of the k largest scores of each row (unordered), via the groups' maxima.

    Columns are grouped ``c -> c mod groups``, so one reshape of the padded ``[b, 64 * groups]``
    block gives every group's maximum; the k largest values lie in the k best groups.
    """
    rows = len(scores)
    if not grouped:
        return np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    group_max = scores.reshape(rows, _GROUP, groups).max(axis=1)
    best_groups = np.argpartition(group_max, groups - k, axis=1)[:, -k:]
    columns = (best_groups[:, :, None] + groups * np.arange(_GROUP)[None, None, :]).reshape(rows, -1)
    # A flat take: half the time of take_along_axis here (measured).
    starts = (np.arange(rows) * scores.shape[1])[:, None]
    candidates = np.take(scores.reshape(-1), columns + starts)
    part = np.argpartition(candidates, candidates.shape[1] - k, axis=1)[:, -k:]
    return np.take_along_axis(columns, part, axis=1)


def _ordered(values: np.ndarray, columns: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of each row, best first, and their columns (int64)."""
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(columns, order, axis=1).astype(
        np.int64
    )


class _Exact:
    """Float32 scores of a whole block, then the k best of each row: the exact search."""

    def __init__(self, reference: Reference, k: int, block: int) -> None:
        self.k = k
        self.vectors = reference.search_vectors
        self.n_ref = len(reference)
        self.groups = -(-self.n_ref // _GROUP)
        # With few groups the plain search is as cheap, and k groups would be most of the row.
        self.grouped = self.groups >= 4 * k
        width = self.groups * _GROUP if self.grouped else self.n_ref
        # Only the padding is filled here; the products overwrite the rest (touching every page
        # of an empty buffer first would cost as much as a product).
        self.buffer = np.empty((block, width), dtype=np.float32)
        self.buffer[:, self.n_ref :] = -np.inf

    def top(
        self, queries: np.ndarray, own: list[list[int] | None], limit: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The k best similarities below ``limit`` per row, best first, their columns, and how
        many columns of each row were at or above ``limit``; ``own`` lists each query's
        same-file reference rows (or None), which are left out."""
        scores = self.buffer[: len(queries)]
        np.matmul(queries, self.vectors.T, out=scores[:, : self.n_ref])
        for row, rows in enumerate(own):
            if rows:
                scores[row, rows] = -np.inf
        dropped = np.zeros(len(scores), dtype=np.int32)
        # Only the rare rows that reach the limit are searched in full.
        for row in np.flatnonzero(scores.max(axis=1) >= limit).tolist():
            hit = scores[row] >= limit
            dropped[row] = int(hit.sum())
            scores[row, hit] = -np.inf
        columns = _best_columns(scores, self.k, self.groups, self.grouped)
        values, found = _ordered(np.take_along_axis(scores, columns, axis=1), columns, self.k)
        return values, found, dropped


class _Quantized:
    """Int8 scores and their best candidates by ONNX Runtime, rescored exactly (see the module)."""

    def __init__(self, reference: Reference, k: int) -> None:
        self.k = k
        self.vectors = reference.search_vectors
        self.n_ref = len(reference)
        self.candidates = min(self.n_ref, 2 * k + _CANDIDATES)
        self.session = _int8_search(reference)

    def top(
        self, queries: np.ndarray, own: list[list[int] | None], limit: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As `_Exact.top`; ``own`` lists each query's same-file reference rows (or None)."""
        # Each query scaled to use the whole int8 range; a row's scale does not change its order.
        scale = np.float32(127.0) / np.maximum(np.abs(queries).max(axis=1, keepdims=True), np.float32(1e-12))
        codes = (np.rint(queries * scale).astype(np.int16) + 128).astype(np.uint8)
        feeds = {"queries": codes, "k": np.array([self.candidates], dtype=np.int64)}
        columns: np.ndarray = self.session.run(None, feeds)[0]
        exact = np.einsum("bcd,bd->bc", np.take(self.vectors, columns, axis=0), queries)
        excluded = np.zeros(exact.shape, dtype=bool)
        for row, rows in enumerate(own):
            if rows:
                excluded[row] = np.isin(columns[row], rows)
        near = (exact >= limit) & ~excluded
        exact[excluded | near] = -np.inf
        dropped = near.sum(axis=1).astype(np.int32)
        values, found = _ordered(exact, columns, self.k)
        # A row that lost so many candidates that its k best may lie beyond them (a query with
        # dozens of copies in the reference) is searched again exactly.
        for row in np.flatnonzero(
            (excluded | near).sum(axis=1) > self.candidates - self.k - _CANDIDATES // 2
        ).tolist():
            full = self.vectors @ queries[row]
            if own[row]:
                full[own[row]] = -np.inf
            over = full >= limit
            dropped[row] = int(over.sum())
            full[over] = -np.inf
            best = np.argsort(-full, kind="stable")[: self.k]
            values[row], found[row] = full[best], best
        return values, found, dropped


# The int8 search graph: MatMulInteger(queries uint8 [batch, dim] - 128, reference int8 [dim, R])
# -> int32 scores, then TopK(scores, k) -> the columns of the k largest, unordered. The reference
# goes in as an initializer (ONNX Runtime packs a constant matrix once; fed as an input it was
# repacked on every call, 0.064 s against 0.04 s a block at Kaggle's size), so the model is
# assembled here from its serialized parts, without the onnx package (inference needs only ONNX
# Runtime): the graph without that initializer, and the model's other fields (IR version 8,
# opset 13, producer). tests/inference/test_reference.py checks the result against onnx.helper's.
_GRAPH_WITHOUT_REFERENCE = base64.b64decode(
    "CjEKB3F1ZXJpZXMKCXJlZmVyZW5jZQoEemVybxIGc2NvcmVzIg1NYXRNdWxJbnRlZ2VyCk4KBnNjb3JlcwoBaxIGdmFsdWVz"
    "EgdpbmRpY2VzIgRUb3BLKgsKBGF4aXMYAaABAioOCgdsYXJnZXN0GAGgAQIqDQoGc29ydGVkGACgAQISGHBhaW50ZXJfbWF0"
    "Y2hfaW50OF90b3BfayoLEAJCBHplcm9KAYBaIQoHcXVlcmllcxIWChQIAhIQCgcSBWJhdGNoCgUSA2RpbVoPCgFrEgoKCAgH"
    "EgQKAggBYigKB2luZGljZXMSHQobCAcSFwoHEgViYXRjaAoMEgpjYW5kaWRhdGVz"
)
_MODEL_FIELDS = base64.b64decode("CAgSDXBhaW50ZXItbWF0Y2hCBAoAEA0=")
_INT8 = 3  # TensorProto.INT8


def int8_search_model(codes: np.ndarray) -> bytes:
    """The serialized ONNX model of the int8 search over ``codes`` (int8 ``[D, R]``).

    Assembled in one join, so the reference's bytes are copied once.
    """
    raw = np.ascontiguousarray(codes, dtype=np.int8).data.cast("B")
    head = b"".join(_varint(1 << 3) + _varint(int(size)) for size in codes.shape)  # TensorProto.dims
    head += _varint(2 << 3) + _varint(_INT8)  # TensorProto.data_type
    head += _field_head(8, 9) + b"reference" + _field_head(9, len(raw))  # name, then raw_data
    tensor_size = len(head) + len(raw)
    graph_size = len(_GRAPH_WITHOUT_REFERENCE) + len(_field_head(5, tensor_size)) + tensor_size
    parts = (
        _MODEL_FIELDS,
        _field_head(7, graph_size),  # ModelProto.graph
        _GRAPH_WITHOUT_REFERENCE,
        _field_head(5, tensor_size),  # GraphProto.initializer
        head,
        raw,
    )
    return b"".join(parts)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field_head(number: int, size: int) -> bytes:
    """The tag and length of a length-delimited protobuf field of ``size`` bytes."""
    return _varint(number << 3 | 2) + _varint(size)


def _int8_search(reference: Reference) -> Any:
    """An ONNX Runtime session of `int8_search_model` over the reference's search vectors (scaled
    to use the whole int8 range), kept on the reference object."""
    cached = reference.__dict__.get("_int8_search")
    if cached is not None:
        return cached
    import onnxruntime as ort

    vectors = reference.search_vectors
    scale = np.float32(127.0 / max(float(np.abs(vectors).max()), 1e-12))
    codes = np.empty((vectors.shape[1], len(vectors)), dtype=np.int8)
    for start in range(0, len(vectors), 8192):  # in blocks: float temporaries of 8k rows only
        block = vectors[start : start + 8192]
        codes[:, start : start + len(block)] = np.clip(np.rint(block * scale), -127, 127).T
    session = ort.InferenceSession(int8_search_model(codes), providers=["CPUExecutionProvider"])
    reference.__dict__["_int8_search"] = session
    return session
