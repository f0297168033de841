"""Export: a tiny trained checkpoint becomes an ONNX model with a dynamic batch axis, the model
contract in its metadata, PyTorch parity, an int8 variant whose AUC change is stored, atomic
writes, and a command line with the project's exit codes."""

from __future__ import annotations

import dataclasses
import json
import runpy
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export needs the [train] extra (torch)")
onnx = pytest.importorskip("onnx", reason="export needs the [train] extra (onnx)")
pytest.importorskip("onnxscript", reason="torch's ONNX exporter needs onnxscript ([train] extra)")


import painter_match.train.export as export_pkg  # noqa: E402
from painter_match.commands.export import main  # noqa: E402
from painter_match.data.catalogue import artist_digest  # noqa: E402
from painter_match.data.images import find_images, load_pixels  # noqa: E402
from painter_match.data.views import Views  # noqa: E402
from painter_match.errors import ImageLoadError  # noqa: E402
from painter_match.inference.collection import MIN_COLLECTION  # noqa: E402
from painter_match.inference.model import METADATA_KEY, ModelError, open_model  # noqa: E402
from painter_match.train.checkpoint import Checkpoint, CheckpointError  # noqa: E402
from painter_match.train.export import AUC_DROP_LIMIT, ExportError, ExportReport, export_model, metadata  # noqa: E402
from painter_match.train.export.parity import FP32_TOLERANCE, Parity, torch_embeddings  # noqa: E402
from painter_match.train.trainer import CENTRING_TOLERANCE  # noqa: E402


@pytest.fixture(scope="module")
def fp32(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportReport]:
    out = tmp_path_factory.mktemp("fp32") / "model.onnx"
    return out, export_model(tiny_checkpoint, out)


@pytest.fixture(scope="module")
def int8(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportReport]:
    out = tmp_path_factory.mktemp("int8") / "model-int8.onnx"
    return out, export_model(tiny_checkpoint, out, variant="int8")


def _readable_pixels(folder: Path, size: int, count: int) -> np.ndarray:
    pixels = []
    for path in find_images(folder):
        try:
            pixels.append(load_pixels(path, size))
        except ImageLoadError:  # the fixture's deliberately corrupt files
            continue
        if len(pixels) == count:
            break
    return np.stack(pixels)


def test_graph_has_named_tensors_and_a_dynamic_batch_axis(fp32: tuple[Path, ExportReport]) -> None:
    path, _ = fp32
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (image,) = model.graph.input
    (embedding,) = model.graph.output
    assert (image.name, embedding.name) == ("image", "embedding")
    assert image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert embedding.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = image.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and not dims[0].HasField("dim_value")
    assert [d.dim_value for d in dims[1:]] == [32, 32, 3]
    assert embedding.type.tensor_type.shape.dim[0].dim_param == "batch"
    loaded = open_model(path, provider="cpu")
    for batch in (1, 5):
        out = loaded.run(np.zeros((batch, 32, 32, 3), np.uint8) + np.uint8(batch * 40))
        assert out.shape == (batch, 32) and out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_metadata_carries_the_contract(fp32: tuple[Path, ExportReport], tiny_checkpoint: Path) -> None:
    path, report = fp32
    state = Checkpoint.load(tiny_checkpoint)
    info = open_model(path, provider="cpu").info
    assert (info.input_size, info.embedding_dim, info.backbone) == (32, 32, "compact")
    assert (info.variant, info.variant_auc, info.views) == ("fp32", None, Views())
    assert (info.resize, info.metric, info.input_layout, info.input_dtype) == (
        "shorter_side_bicubic_center_crop",
        "cosine",
        "NHWC",
        "uint8",
    )
    assert info.calibration == state.calibration
    assert info.val_auc == pytest.approx(state.val_auc)
    assert info.data_fingerprint == state.data_fingerprint and len(info.data_fingerprint) == 16
    assert {"painter_match", "torch", "onnx", "onnxruntime"} <= set(info.versions)
    assert datetime.fromisoformat(info.created).utcoffset() is not None
    assert info.weights == metadata.weights_digest(state.encoder)
    assert info.training_artists == tuple(sorted({artist_digest(a) for a in state.train_artists}))
    # The collection adaptation: stated when centring cost the validation pairs at most
    # CENTRING_TOLERANCE, with the calibration fitted on the validation paintings centred on their mean.
    row = state.history[-1]
    assert row["epoch"] == state.epoch and 0.0 <= row["val_auc_centred"] <= 1.0
    assert (state.collection_calibration is not None) == (
        row["val_auc_centred"] >= row["val_auc"] - CENTRING_TOLERANCE
    )
    if state.collection_calibration is None:
        assert info.collection is None
    else:
        assert info.collection is not None
        assert (info.collection.method, info.collection.min_paintings) == ("centre", MIN_COLLECTION)
        assert info.collection.calibration == state.collection_calibration
        assert info.collection.calibration != info.calibration
    # One JSON document, not str() of a dict.
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props[METADATA_KEY])["schema_version"] == 1
    assert report.size_bytes == path.stat().st_size


def test_evaluating_the_exported_model_tells_seen_from_unseen_artists(
    fp32: tuple[Path, ExportReport], synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from painter_match.cli import main as cli_main

    assert cli_main(["evaluate", str(fp32[0]), str(synth_dir), "--no-baseline", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    # The synthetic test set holds artists seen in training and artists never seen; the model's
    # metadata records which were trained on, so the two AUCs are of different pairs.
    assert report["training_artists_known"] is True
    assert report["pairs_seen_artists"] > 0 and report["pairs_unseen_artists"] > 0
    assert report["pairs_seen_artists"] + report["pairs_unseen_artists"] < report["pairs_scored"]


def test_a_re_export_of_the_same_checkpoint_is_the_same_model(tiny_checkpoint: Path) -> None:
    state = Checkpoint.load(tiny_checkpoint)
    first = metadata.model_info(state, source="best.pt", created="2026-01-01T00:00:00+00:00")
    later = metadata.model_info(
        Checkpoint.load(tiny_checkpoint), source="best.pt", created="2026-06-01T12:00:00+00:00"
    )
    assert first.created != later.created and first.identity == later.identity
    retrained = dataclasses.replace(state, encoder={k: v.clone() for k, v in state.encoder.items()})
    name = next(k for k, v in retrained.encoder.items() if v.is_floating_point())
    retrained.encoder[name].add_(1e-3)
    assert metadata.model_info(retrained, source="best.pt").identity != first.identity


def test_a_model_without_the_contract_is_refused(fp32: tuple[Path, ExportReport], tmp_path: Path) -> None:
    model = onnx.load(str(fp32[0]))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ModelError, match="not a painter-match model.*make export"):
        open_model(bare, provider="cpu")


def test_onnx_runtime_matches_pytorch_on_real_paintings(
    fp32: tuple[Path, ExportReport], tiny_checkpoint: Path, synth_dir: Path
) -> None:
    path, report = fp32
    assert report.parity["batch_sizes"] == [1, 7]
    assert report.parity["max_abs_error"] <= FP32_TOLERANCE == report.parity_tolerance
    # The same check, independently: another set of real paintings at an odd batch size.
    encoder = Checkpoint.load(tiny_checkpoint).restore_encoder()
    pixels = _readable_pixels(synth_dir / "test", 32, 9)
    got = open_model(path, provider="cpu").run(pixels)
    np.testing.assert_allclose(got, torch_embeddings(encoder, pixels), atol=FP32_TOLERANCE, rtol=0)


def test_int8_variant_measures_and_stores_its_auc_change(
    int8: tuple[Path, ExportReport], fp32: tuple[Path, ExportReport], tiny_checkpoint: Path
) -> None:
    path, report = int8
    info = open_model(path, provider="cpu").info
    assert info.variant == "int8"
    assert info.variant_auc == pytest.approx(report.variant_auc)
    # The fp32 model scores exactly the pairs the trainer validated on: it reproduces val_auc, up
    # to a pair or two whose similarities tie within float rounding (each moves the AUC of the
    # tiny model's ~200 pairs by about 1e-4); other pairs would miss by far more.
    assert report.fp32_auc == pytest.approx(Checkpoint.load(tiny_checkpoint).val_auc, abs=5e-4)
    assert report.auc_change == pytest.approx(report.variant_auc - report.fp32_auc)
    assert abs(report.auc_change) < 0.1
    assert report.auc_drop_exceeded == (-report.auc_change > AUC_DROP_LIMIT)
    assert bool(report.warnings) == report.auc_drop_exceeded
    assert report.calibration_images > 0
    assert report.variant_parity is not None and report.variant_parity["min_cosine"] > 0.9
    assert path.stat().st_size < fp32[0].stat().st_size
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_an_auc_drop_beyond_the_limit_is_reported(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scores = iter([0.80, 0.70])  # fp32, then the variant
    monkeypatch.setattr(export_pkg, "pair_auc", lambda *args, **kwargs: next(scores))
    out = tmp_path / "fp16.onnx"
    report = export_model(tiny_checkpoint, out, variant="fp16")
    assert report.auc_drop_exceeded and report.auc_change == pytest.approx(-0.10)
    assert "loses 0.1000 validation AUC" in report.warnings[0]
    info = open_model(out, provider="cpu").info  # still written, and fp16 runs on the CPU
    assert (info.variant, info.variant_auc) == ("fp16", pytest.approx(0.70))
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8


def test_failed_parity_leaves_the_target_untouched(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_pkg, "compare", lambda *args, **kwargs: Parity([1, 7], 7, 0.25, 0.9))
    out = tmp_path / "models" / "painter-match.onnx"
    out.parent.mkdir()
    out.write_bytes(b"the previous model")
    with pytest.raises(ExportError, match="differ by up to 0.25.*nothing was written"):
        export_model(tiny_checkpoint, out)
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in out.parent.iterdir()] == ["painter-match.onnx"]  # no temporary left behind


def test_a_moved_data_folder_asks_for_parity_data(
    tiny_checkpoint: Path, synth_dir: Path, tmp_path: Path
) -> None:
    state = Checkpoint.load(tiny_checkpoint)
    state.config["data_dir"] = str(tmp_path / "gone")
    moved = tmp_path / "moved.pt"
    state.save(moved)
    with pytest.raises(ExportError, match="--parity-data"):
        export_model(moved, tmp_path / "m.onnx")
    report = export_model(moved, tmp_path / "m.onnx", parity_data=synth_dir / "test")
    assert report.parity["max_abs_error"] <= FP32_TOLERANCE


def test_cli_json_and_exit_codes(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.onnx"
    assert main([str(tiny_checkpoint), "-o", str(out), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output"] == str(out) and report["variant"] == "fp32" and out.is_file()

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert main([str(broken), "-o", str(tmp_path / "x.onnx"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.pt" in err and err.count("\n") == 1
    assert not (tmp_path / "x.onnx").exists()

    for usage in (["--int8", "--fp16"], ["--calibration-data", str(tmp_path)]):
        with pytest.raises(SystemExit) as exit_info:
            main([str(tiny_checkpoint), *usage])
        assert exit_info.value.code == 2


def test_python_dash_m_export_runs_main(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process (runpy) rather than a subprocess: the same `python -m export` path, without
    # paying for a second torch import.
    missing = tmp_path / "none.pt"
    monkeypatch.setattr(sys, "argv", ["export", str(missing), "-o", str(tmp_path / "m.onnx")])
    monkeypatch.delitem(sys.modules, "export.__main__", raising=False)  # runpy runs it afresh
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("export", run_name="__main__", alter_sys=False)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {missing}: checkpoint not found; train one with `painter-match train`"
    ]


def test_painter_match_export_is_the_same_command(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from painter_match.cli import main as cli_main

    out = tmp_path / "installed.onnx"
    assert cli_main(["export", str(tiny_checkpoint), "-o", str(out), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(out) and out.is_file()
    assert cli_main(["export", str(tiny_checkpoint), "-o", str(out), "--quiet"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_a_checkpoint_without_calibration_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    state = Checkpoint.load(tiny_checkpoint).to_state()
    del state["calibration"]
    bad = tmp_path / "nocal.pt"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match="lacks 'calibration'"):
        export_model(bad, tmp_path / "m.onnx")
