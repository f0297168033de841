"""The bench runs and reports what it measured; its figures are read by people, never asserted on here.

The fast tests run one tiny stage (``--smoke --stage score``, seconds) and check the pieces that
compute derived figures (FLOP counting, the stage bound, the targets). The slow one runs
``python -m bench --quick`` as CI smoke does and checks that every stage produced positive figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.embed_e2e import stage_bound
from bench.suite import STAGES, parse_stages
from bench.targets import KAGGLE_PAIRS, evaluate

REPO = Path(__file__).resolve().parent.parent


def _check_machine(document: dict) -> None:
    machine = document["machine"]
    assert machine["cores"] >= 1
    assert machine["cpu"]
    assert machine["libraries"]["numpy"]
    assert machine["libraries"]["onnxruntime"]
    assert isinstance(machine["cpu_flags"], list)


def test_smoke_score_stage_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = main(
        [
            "--smoke",
            "--stage",
            "score",
            "--pairs",
            "5000",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    document = json.loads(out.read_text())
    _check_machine(document)
    assert document["stages"] == ["score"]
    engines = {row["engine"]: row for row in document["rows"]}
    assert set(engines) == {"painter-match", "pandas", "painter-match --reference"}
    reference = engines.pop("painter-match --reference")
    assert reference["pairs"] == 5000 and reference["added_s"] is not None and reference["peak_rss_mb"] > 0
    for row in engines.values():
        assert row["pairs"] == 5000
        assert row["value"] > 0 and row["median_s"] > 0 and row["peak_rss_mb"] > 0
    assert engines["painter-match"]["vs_pandas"] > 0
    statuses = {t["name"]: t["status"] for t in document["targets"]}
    assert statuses["embed fp32 / usual way (fp32 eager)"] == "not measured"
    assert statuses["score: speed-up over pandas"] in ("met", "not met")
    assert statuses["score --reference / plain score"] in ("met", "not met")


def test_unknown_stage_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--stage", "decode,nonsense"])
    assert exit_info.value.code == 2
    assert "nonsense" in capsys.readouterr().err


def test_parse_stages_keeps_the_suite_order() -> None:
    assert parse_stages(["score", "decode,model"]) == ("decode", "model", "score")
    assert parse_stages(list(STAGES)) == STAGES


def test_stage_bound_time_shares_the_cores() -> None:
    # 2 cores, 50 images/s/core decode, 100 images/s model: each image costs 1/50 + 2/100 core-s.
    assert stage_bound(50.0, 100.0, 2) == pytest.approx(2 / (1 / 50 + 2 / 100))
    assert stage_bound(0.0, 100.0, 2) == 0.0


def test_onnx_flops_counts_conv_and_gemm(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from bench.networks import onnx_flops

    weight = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    dense = numpy_helper.from_array(np.zeros((8, 4), np.float32), "d")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
            helper.make_node("GlobalAveragePool", ["y"], ["p"]),
            helper.make_node("Flatten", ["p"], ["f"]),
            helper.make_node("Gemm", ["f", "d"], ["z"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
        initializer=[weight, dense],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    conv = 2 * (8 * 16 * 16) * (3 * 3 * 3)
    gemm = 2 * 4 * 8
    assert onnx_flops(path) == conv + gemm


def test_targets_read_the_rows() -> None:
    rows = [
        {"stage": "usual", "value": 10.0},
        {"stage": "embed", "variant": "fp32", "value": 25.0, "bound": 28.0, "bound_fraction": 25 / 28},
        {"stage": "embed", "variant": "int8", "value": 29.0, "bound": 40.0, "bound_fraction": 29 / 40},
        {
            "stage": "score",
            "engine": "painter-match",
            "pairs": KAGGLE_PAIRS,
            "median_s": 15.0,
            "peak_rss_mb": 900.0,
        },
        {
            "stage": "score",
            "engine": "pandas",
            "pairs": KAGGLE_PAIRS,
            "median_s": 45.0,
            "peak_rss_mb": 5000.0,
        },
    ]
    verdicts = {t.name: t.status for t in evaluate(rows)}
    assert verdicts == {
        "embed fp32 / usual way (fp32 eager)": "met",
        "embed int8 / usual way (fp32 eager)": "not met",
        "embed fp32 / its stage bound": "met",
        "embed int8 / its stage bound": "not met",
        "score 21.9M pairs: seconds": "met",
        "score 21.9M pairs: peak RSS (MB)": "met",
        "score: speed-up over pandas": "not met",
        "score --reference / plain score": "not measured",
    }
    reference = {
        "stage": "score",
        "engine": "painter-match --reference",
        "name": "reference scoring (top-k + posterior, pairs)",
        "pairs": KAGGLE_PAIRS,
        "plain_pairs_s": 5.0,
        "added_s": 12.0,
        "peak_rss_mb": 1200.0,
    }
    judged = {t.name: t for t in evaluate([*rows, reference])}["score --reference / plain score"]
    assert judged.status == "met" and judged.measured == pytest.approx(27 / 15)
    reference["added_s"] = 16.0
    assert {t.name: t.status for t in evaluate([*rows, reference])}[
        "score --reference / plain score"
    ] == "not met"


@pytest.mark.slow
def test_quick_bench_measures_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out),
            "-q",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text())
    _check_machine(document)
    assert document["stages"] == list(STAGES)
    assert not document["errors"]
    for row in document["rows"]:
        assert row["value"] > 0, row
        assert row["peak_rss_mb"] > 0, row
    embed = [r for r in document["rows"] if r["stage"] == "embed"]
    assert {r["variant"] for r in embed} >= {"fp32", "int8"}
    assert all(r["bound"] > 0 and r["vs_usual"] > 0 for r in embed)
    assert len(document["targets"]) == 7
