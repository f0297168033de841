"""Fault suite, round 2: every artefact checked as it loads (issue 24, D9-D14, D20, D21, D24).

A model's metadata against its graph and its calibration, a reference's every setting, a
checkpoint's bytes and types, the model identity of int8 exports, the rule that chose a model,
input files that are pipes or folders: each gives one line naming the file and what to do, or the
right answer, never a traceback or a silent wrong result.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fault_kit import leftovers, make_data, one_line, run
from onnx_models import TEST_CALIBRATION, tiny_info, write_tiny_model

from painter_match.errors import DataError
from painter_match.inference.calibration import Calibration
from painter_match.inference.embeddings import partial_path
from painter_match.inference.model import ModelError, open_model
from painter_match.inference.reference import query_evidence, score_pairs_with_reference
from painter_match.inference.reference.set import Combiner, Reference, load_reference, save_reference

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_data(tmp_path_factory.mktemp("loads"))


def _verify(data: dict[str, Path], model: Path | None, *more: str) -> list[str]:
    argv = ["verify", str(data["images"] / "1.png"), str(data["images"] / "2.png")]
    return argv + (["-m", str(model)] if model is not None else []) + list(more)


def _metadata(**changes: object) -> str:
    document = json.loads(tiny_info().to_json())
    document.update(changes)
    return json.dumps(document)


# --- D9: the identity of an int8 model includes its quantisation -------------------------------------


def test_d9_two_int8_exports_of_one_checkpoint_are_two_models(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same metadata (weights digest, variant) over two graphs: as two int8 exports of one
    # checkpoint calibrated on other images, whose scales and so vectors differ.
    info = replace(tiny_info(), variant="int8")
    first = write_tiny_model(tmp_path / "a.onnx", info=info, seed=0)
    second = write_tiny_model(tmp_path / "b.onnx", info=info, seed=1)
    assert open_model(first).info.identity != open_model(second).info.identity
    assert open_model(first).info.identity == open_model(first).info.identity  # stable
    parts = []
    for k, model in enumerate((first, second)):
        parts.append(tmp_path / f"part-{k}.npz")
        argv = ["embed", str(data["images"]), "--shard", f"{k}/2", "-o", str(parts[-1]), "-m", str(model)]
        assert run(argv, capsys)[0] == 0
    code, _, err = run(["merge", str(tmp_path / "all.npz"), *map(str, parts)], capsys)
    assert code == 1 and "embeddings of two models or view policies cannot be merged" in one_line(err)
    assert not (tmp_path / "all.npz").exists()


# --- D10: priors far from one half -------------------------------------------------------------------


def test_d10_a_tiny_prior_keeps_every_probability_positive_and_ordered() -> None:
    similarity = np.linspace(-1.0, 1.0, 201)
    moved = TEST_CALIBRATION.at_prior(1e-20).probability(similarity)
    assert (moved > 0).all() and (np.diff(moved) > 0).all()
    assert moved[-1] == pytest.approx(1e-20 * np.exp(8.0 * 1 - 4.0), rel=1e-3)


def test_d10_score_with_a_tiny_prior_keeps_the_auc(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aucs, texts = [], []
    for prior in ([], ["--prior", "1e-20"]):
        out = tmp_path / f"s{len(aucs)}.csv"
        argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(out)]
        code, stdout, err = run([*argv, "--solution", str(data["solution"]), "--json", *prior], capsys)
        assert code == 0, err
        aucs.append(json.loads(stdout)["auc"])
        texts.append([float(line.split(",")[1]) for line in out.read_text().splitlines()[1:]])
    assert aucs[0] is not None and aucs[1] == pytest.approx(aucs[0])
    assert all(0 < p < 1e-15 for p in texts[1])  # at the prior's scale, none rounded to 0


@pytest.mark.parametrize("share", ["1e-21", "0.9999999"])
def test_d10_a_prior_that_cannot_be_written_is_a_usage_error(
    share: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(tmp_path / "s.csv")]
    with pytest.raises(SystemExit) as caught:
        run([*argv, "--prior", share], capsys)
    assert caught.value.code == 2 and "from 1e-20 to 0.999999" in capsys.readouterr().err


def test_d10_the_reference_at_a_tiny_prior_keeps_the_pairs_order() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    combiner = Combiner(
        k=5,
        temperature=0.05,
        unknown_similarity=0.3,
        keep=3,
        coefficients=(-3.0, 3.0, 8.0, 0.0, 0.0, 0.0, 0.0),
        positive_share=0.5,
    )
    reference = Reference(
        vectors=vectors,
        artist_ids=np.arange(40, dtype=np.int32) % 8,
        artists=[f"artist {i}" for i in range(8)],
        paths=[f"{i}.jpg" for i in range(40)],
        digests=[None] * 40,
        combiner=combiner,
    )
    queries = rng.standard_normal((30, 8)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    evidence = query_evidence(queries, reference)
    first, second = np.triu_indices(30, 1)
    fitted = score_pairs_with_reference(first, second, evidence, combiner)
    moved = score_pairs_with_reference(first, second, evidence, combiner.at_prior(1e-8))
    assert (moved > 0).all()  # at 1e-8 the pairs' log-odds reach -24: float32 holds exp(-24)
    assert np.array_equal(np.argsort(fitted, kind="stable"), np.argsort(moved, kind="stable"))


# --- D11, D12: model metadata against the graph, and a finite calibration -----------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"input_size": 100},
            "the metadata says input_size 100 ([batch, 100, 100, 3] uint8), but the graph's "
            "'image' input is [batch, 32, 32, 3]",
        ),
        (
            {"embedding_dim": 128},
            "the metadata says embedding_dim 128 ([batch, 128]), but the graph's "
            "'embedding' output is [batch, 16]",
        ),
    ],
)
def test_d11_metadata_that_disagrees_with_the_graph_is_one_line(
    change: dict[str, object],
    expected: str,
    data: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = write_tiny_model(tmp_path / "m.onnx", metadata=_metadata(**change))
    with pytest.raises(ModelError, match="does not belong to this graph"):
        open_model(model)
    code, _, err = run(_verify(data, model), capsys)
    assert code == 1 and expected in one_line(err)


@pytest.mark.parametrize("field", ["slope", "intercept", "threshold"])
def test_d12_a_calibration_that_is_not_finite_is_refused_as_the_model_loads(
    field: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calibration = {**TEST_CALIBRATION.to_dict(), field: float("nan")}
    model = write_tiny_model(tmp_path / "m.onnx", metadata=_metadata(calibration=calibration))
    code, out, err = run(_verify(data, model), capsys)
    assert code == 1 and f"calibration field '{field}' must be a finite number" in one_line(err)
    assert "nan" not in out.lower()


def test_d12_calibration_values_out_of_range_are_refused() -> None:
    good = TEST_CALIBRATION.to_dict()
    for field, value in (("positive_share", 1.5), ("pairs", -3), ("pairs", 2.5), ("slope", float("inf"))):
        with pytest.raises(ValueError, match=field):
            Calibration.from_dict({**good, field: value})


# --- D13: a reference's every setting in range --------------------------------------------------------


def _reference_file(path: Path, **combiner: object) -> Path:
    vectors = np.eye(4, dtype=np.float32)
    reference = Reference(
        vectors=vectors,
        artist_ids=np.array([0, 0, 1, 1], dtype=np.int32),
        artists=["a", "b"],
        paths=[f"{i}.jpg" for i in range(4)],
        digests=[None] * 4,
        source="made-by-some-model",
        combiner=Combiner(coefficients=(0.0,) * 7, positive_share=0.5),
    )
    save_reference(path, reference)
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(str(arrays["meta"][()]))
    meta["combiner"].update(combiner)
    arrays["meta"] = np.asarray(json.dumps(meta))
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    return path


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"k": 10**9}, "k and keep must be from 1 to 1024"),
        ({"keep": 0}, "k and keep must be from 1 to 1024"),
        ({"k": 2.5}, "'k' must be a whole number"),
        ({"temperature": -1.0}, "temperature must be a positive number"),
        ({"unknown_similarity": 7.0}, "unknown_similarity is a cosine similarity"),
        ({"near_duplicate": -3.0}, "near_duplicate is a cosine similarity"),
        ({"shrinkage": 0.0}, "shrinkage must be a positive number"),
        ({"positive_share": 1.0}, "positive_share must be a share"),
        ({"pairs": -1}, "pairs must be 0 or more"),
        ({"coefficients": "none"}, "'coefficients' must be a list"),
    ],
)
def test_d13_a_reference_setting_out_of_range_is_refused_as_it_loads(
    setting: dict[str, object], message: str, tmp_path: Path
) -> None:
    path = _reference_file(tmp_path / "ref.npz", **setting)
    with pytest.raises(DataError) as caught:
        load_reference(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: not a readable reference file (") and message in text
    assert text.endswith("make it again with `painter-match reference`") and "\n" not in text


def test_d13_verify_with_a_huge_k_is_one_line(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _reference_file(tmp_path / "ref.npz", k=10**9)
    code, _, err = run(_verify(data, data["model"], "--reference", str(path)), capsys)
    assert code == 1 and "k and keep must be from 1 to 1024, got k=1000000000" in one_line(err)


# --- D14: a checkpoint that is no checkpoint ----------------------------------------------------------


@pytest.mark.skipif(not HAS_TORCH, reason='needs torch: pip install "painter-match[train]"')
@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_d14_a_text_file_as_checkpoint_is_one_line(
    command: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "x.pt"
    checkpoint.write_text("hi\n")
    if command == "evaluate":
        argv = ["evaluate", str(checkpoint), str(data["images"]), "--pairs", str(data["pairs"])]
        argv += ["--solution", str(data["solution"]), "--no-baseline"]
    else:
        argv = ["export", str(checkpoint), "-o", str(tmp_path / "m.onnx")]
    code, _, err = run(argv, capsys)
    line = one_line(err)
    assert code == 1 and f"{checkpoint}: not a readable checkpoint" in line
    assert checkpoint.read_text() == "hi\n" and not (tmp_path / "m.onnx").exists()


@pytest.mark.skipif(not HAS_TORCH, reason='needs torch: pip install "painter-match[train]"')
def test_d14_a_checkpoint_with_mistyped_fields_is_one_line(tmp_path: Path) -> None:
    import torch

    from painter_match.train.checkpoint import FORMAT, VERSION, Checkpoint, CheckpointError

    state = {"format": FORMAT, "version": VERSION, "config": [], "encoder_config": {}, "encoder": {}}
    torch.save(state, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="the checkpoint's config is a list"):
        Checkpoint.load(tmp_path / "x.pt")
    torch.save({**state, "version": "two"}, tmp_path / "y.pt")
    with pytest.raises(CheckpointError, match="format version is 'two'"):
        Checkpoint.load(tmp_path / "y.pt")


# --- D20: the rule that chose a missing model --------------------------------------------------------


def test_d20_a_missing_model_from_the_environment_names_the_variable(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAINTER_MATCH_MODEL", "/x/missing.onnx")
    code, _, err = run(_verify(data, None), capsys)
    line = one_line(err)
    assert code == 1 and "model /x/missing.onnx (from $PAINTER_MATCH_MODEL) not found" in line
    assert "set $PAINTER_MATCH_MODEL to an existing .onnx file or unset it" in line
    assert "given with -m" not in line


# --- D21: pipes as input files ---------------------------------------------------------------------------


class _Writer:
    """Writes ``text`` into a FIFO once a reader opens it (as `cat pairs.csv > fifo` would), so a
    run that opens the FIFO does not hang; `finish` frees the writer if nobody ever does."""

    def __init__(self, fifo: Path, text: str) -> None:
        self.fifo = fifo
        self.thread = threading.Thread(target=self._write, args=(text,), daemon=True)
        self.thread.start()

    def _write(self, text: str) -> None:
        try:
            with open(self.fifo, "w") as file:
                file.write(text)
        except BrokenPipeError:
            pass

    def finish(self) -> None:
        descriptor = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer's open return
        self.thread.join(timeout=60)
        os.close(descriptor)


@pytest.mark.parametrize("role", ["pairs", "solution"])
def test_d21_a_named_fifo_as_pairs_or_solution_is_refused_without_hanging(
    role: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / f"{role}.fifo"
    os.mkfifo(fifo)
    writer = _Writer(fifo, data[role].read_text())
    files = {"pairs": data["pairs"], "solution": data["solution"], role: fifo}
    out = tmp_path / "s.csv"
    argv = ["score", str(files["pairs"]), "--embeddings", str(data["e"]), "-o", str(out)]
    try:
        code, _, err = run([*argv, "--solution", str(files["solution"])], capsys)
    finally:
        writer.finish()
    line = one_line(err)
    assert code == 1 and f"{fifo}: is a FIFO (named pipe), not a regular file" in line
    assert "save it to a file first" in line and not out.exists() and leftovers(tmp_path) == []


def test_d21_process_substitution_is_named_a_pipe_not_a_missing_file(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read, write = os.pipe()  # what `<(cat pairs.csv)` hands over: /dev/fd/N, a pipe
    try:
        os.write(write, data["pairs"].read_bytes())
        os.close(write)
        argv = ["score", f"/dev/fd/{read}", "--embeddings", str(data["e"]), "-o", str(tmp_path / "s.csv")]
        code, _, err = run(argv, capsys)
    finally:
        os.close(read)
    line = one_line(err)
    assert code == 1 and f"/dev/fd/{read}: is a FIFO (named pipe), not a regular file" in line
    assert "file not found" not in line


# --- D24: messages that say what to do ----------------------------------------------------------------


def test_d24_a_folder_as_reference_is_named_a_folder(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(_verify(data, data["model"], "--reference", str(tmp_path)), capsys)
    line = one_line(err)
    assert code == 1 and f"reference file {tmp_path} is a folder; give the reference file itself" in line


def test_d24_a_damaged_progress_file_says_what_to_do(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.npz"
    whole = data["e"].read_bytes()
    partial_path(out).write_bytes(whole[: len(whole) // 2])  # cut off, as a bad copy leaves it
    argv = ["embed", str(data["images"]), "-o", str(out), "-m", str(data["model"]), "--resume"]
    code, _, err = run(argv, capsys)
    line = one_line(err)
    assert code == 1 and f"{partial_path(out)}: not a readable embeddings file" in line
    assert (
        f"the progress file is damaged: delete {partial_path(out)} to start again from the first image"
        in line
    )
    assert "or pass --force" in line and not out.exists()


def test_d24_missing_error_names_the_flag_that_fills(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("index,image1,image2\n0,1.png,2.png\n1,1.png,gone.png\n")
    argv = ["score", str(pairs), "--embeddings", str(data["e"]), "-o", str(tmp_path / "s.csv")]
    code, _, err = run([*argv, "--missing", "error"], capsys)
    line = one_line(err)
    assert code == 1 and "row 3 names 'gone.png'" in line and "(--missing fill)" in line
    assert "missing='fill'" not in line
