"""The model contract: metadata round-trips, and every way it can be missing or wrong is refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from painter_match.data.views import Views
from painter_match.inference.calibration import Calibration
from painter_match.inference.model import (
    SCHEMA_VERSION,
    ModelChoice,
    ModelError,
    ModelInfo,
    resolve_model,
    resolve_providers,
)


def _info(**changes: object) -> ModelInfo:
    values: dict[str, object] = {
        "input_size": 96,
        "embedding_dim": 64,
        "calibration": Calibration(slope=12.0, intercept=-6.0, threshold=0.55, positive_share=0.2, pairs=300),
        "backbone": "compact",
        "data_fingerprint": "abc123",
        "val_auc": 0.87,
        "created": "2026-11-23T10:00:00Z",
        "versions": {"painter_match": "0.1.0"},
        "views": Views(crops=4, crop_scale=2.0),
    }
    values.update(changes)
    return ModelInfo(**values)  # type: ignore[arg-type]


def test_metadata_round_trips_through_json() -> None:
    info = _info()
    again = ModelInfo.from_json(info.to_json())
    assert again == info
    assert again.calibration.probability([0.55])[0] == pytest.approx(info.calibration.probability([0.55])[0])
    assert json.loads(info.to_json())["schema_version"] == SCHEMA_VERSION


def test_identity_changes_with_the_weights_that_made_it() -> None:
    assert _info().identity != _info(created="2026-11-24T10:00:00Z").identity  # no digest: the clock
    assert _info().identity != _info(variant="int8").identity
    assert _info().identity == _info(val_auc=0.5).identity


def test_identity_is_the_weights_and_preprocessing_not_the_export_time() -> None:
    digest = "9f" * 32
    info = _info(weights=digest)
    assert info.identity == _info(weights=digest, created="2027-05-01T00:00:00Z", val_auc=0.5).identity
    assert info.identity != _info(weights="0e" * 32).identity
    assert info.identity != _info(weights=digest, input_size=128).identity
    assert info.identity != _info(weights=digest, variant="int8").identity
    assert ModelInfo.from_json(info.to_json()).identity == info.identity


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=99), "schema version 99"),
        (lambda d: d.pop("input_size"), "lacks 'input_size'"),
        (lambda d: d.update(input_size=0), "input_size must be a positive integer"),
        (lambda d: d.update(calibration={"slope": 1.0}), "calibration field 'intercept'"),
        (lambda d: d.update(variant="int4"), "variant 'int4'"),
        (lambda d: d.update(resize="stretch"), "resize 'stretch'"),
        (lambda d: d.update(views={"crops": -1}), "crops must be a whole number from 0 to 64"),
        (lambda d: d.update(val_auc="high"), "val_auc must be a finite number"),
    ],
)
def test_bad_metadata_is_refused_with_the_field_named(change, message: str) -> None:
    data = json.loads(_info().to_json())
    change(data)
    with pytest.raises(ModelError, match=message) as caught:
        ModelInfo.from_json(json.dumps(data), "m.onnx")
    assert str(caught.value).startswith("m.onnx")
    assert "make export" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_metadata_that_is_not_json_is_refused() -> None:
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelInfo.from_json("{nope", "m.onnx")
    with pytest.raises(ModelError, match="JSON object"):
        ModelInfo.from_json("[1, 2]", "m.onnx")


def test_provider_auto_prefers_cuda_and_falls_back_to_the_cpu() -> None:
    cpu_only = ["CPUExecutionProvider"]
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers("auto", cpu_only) == ["CPUExecutionProvider"]
    assert resolve_providers("auto", gpu) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers("tensorrt", gpu)[0] == "TensorrtExecutionProvider"
    assert resolve_providers("CPU", gpu) == ["CPUExecutionProvider"]


def test_a_gpu_provider_that_is_not_installed_names_the_extra() -> None:
    with pytest.raises(ModelError, match=r"painter-match\[gpu\]"):
        resolve_providers("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ModelError, match="unknown provider 'tpu'"):
        resolve_providers("tpu", ["CPUExecutionProvider"])


def test_the_model_used_follows_one_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-m, else $PAINTER_MATCH_MODEL, else ./models/painter-match.onnx, else the packaged default."""
    from painter_match.inference import model as model_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAINTER_MATCH_MODEL", raising=False)
    monkeypatch.setattr(model_module, "packaged_model_path", lambda: None)
    with pytest.raises(ModelError, match="no model given.*painter-match export"):
        resolve_model()
    packaged = tmp_path / "site" / "painter-match.onnx"
    monkeypatch.setattr(model_module, "packaged_model_path", lambda: packaged)
    assert resolve_model() == ModelChoice(packaged, "packaged")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "painter-match.onnx").write_bytes(b"")
    assert resolve_model() == ModelChoice(Path("models/painter-match.onnx"), "./models")
    monkeypatch.setenv("PAINTER_MATCH_MODEL", "/somewhere/m.onnx")
    assert resolve_model() == ModelChoice(Path("/somewhere/m.onnx"), "env")
    assert resolve_model("given.onnx") == ModelChoice(Path("given.onnx"), "-m")
    assert "PAINTER_MATCH_MODEL" in resolve_model().rule_text


def test_the_packaged_default_is_found_with_importlib_resources() -> None:
    from importlib import resources

    from painter_match.inference.model import packaged_model_path

    expected = resources.files("painter_match") / "models" / "painter-match.onnx"
    assert packaged_model_path() == (Path(str(expected)) if expected.is_file() else None)
