"""The bench runs and reports what it measured; its figures are read by people, never asserted on here.

The fast tests run one tiny stage (``--smoke --stage score``, seconds) and check the pieces that
compute derived figures (FLOP counting, the stage bound, the targets). The slow one runs
``python -m bench --quick`` as CI smoke does and checks that every stage produced positive figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.embed_e2e import stage_bound
from bench.suite import SMOKE, STAGES, parse_stages
from bench.targets import KAGGLE_PAIRS, evaluate

REPO = Path(__file__).resolve().parents[2]


def _check_machine(document: dict) -> None:
    machine = document["machine"]
    assert machine["cores"] == len(os.sched_getaffinity(0))  # the cores this run may use, not the box's
    assert machine["cpu"]
    assert machine["libraries"]["numpy"]
    assert machine["libraries"]["onnxruntime"]
    assert isinstance(machine["cpu_flags"], list)


def _verdict(target: dict) -> str:
    """The status a target's measured figure must give against its limit, recomputed by hand."""
    from bench import targets as limits

    measured, name = target["measured"], target["name"]
    if measured is None:
        return "not measured"
    if "AUC drift" in name:
        met = abs(measured) <= limits.REAL_INT8_AUC_DRIFT
    elif "stage bound" in name:
        met = measured >= limits.BOUND_FRACTION
    elif name == "real model embed fp32 / usual way (same views)":
        met = measured >= limits.REAL_VS_USUAL_FP32
    elif name == "score: speed-up over pandas":
        met = measured >= limits.SCORE_VS_PANDAS
    elif name == "score --reference / plain score":
        met = measured <= limits.REFERENCE_VS_PLAIN
    else:
        raise AssertionError(f"no rule for target {name!r}")
    return "met" if met else "not met"


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
    targets = {t["name"]: t for t in document["targets"]}
    assert targets["embed fp32 / usual way (fp32 eager)"]["status"] == "not measured"
    speedup = targets["score: speed-up over pandas"]
    assert speedup["measured"] == pytest.approx(
        engines["pandas"]["median_s"] / engines["painter-match"]["median_s"]
    )
    # Each verdict is the one its figure and limit give, whichever way this machine's timing fell.
    for name in ("score: speed-up over pandas", "score --reference / plain score"):
        assert targets[name]["measured"] is not None and targets[name]["status"] == _verdict(targets[name]), (
            name
        )


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
    onnx = pytest.importorskip("onnx", reason="the test network is built with onnx.helper (needs onnx)")
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
        "real model embed fp32 / usual way (same views)": "not measured",
        "real model embed fp32 / its stage bound": "not measured",
        "real model embed int8 / its stage bound": "not measured",
        "real model int8 AUC drift, held-out artists": "not measured",
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
        if row.get("unit") == "AUC":  # int8's AUC drift: a difference, not a rate
            continue
        assert row["value"] > 0, row
        assert row["peak_rss_mb"] > 0, row
    embed = [r for r in document["rows"] if r["stage"] == "embed"]
    assert {r["variant"] for r in embed} >= {"fp32", "int8"}
    assert all(r["bound"] > 0 and r["vs_usual"] > 0 for r in embed)
    assert len(document["targets"]) == 12


def _real_rows() -> list[dict]:
    """The rows of a ``real`` stage, as `bench.suite` makes them, before the derived figures."""
    rows: list[dict] = [
        {
            "stage": "real",
            "real": "decode mix",
            "name": "decode mix",
            "value": 20.0,
            "unit": "paintings/s/core",
        },
        {"stage": "real", "real": "usual", "name": "usual way", "value": 5.0, "unit": "paintings/s"},
        {"stage": "real", "name": "int8 AUC drift, held-out artists", "value": -0.0011, "unit": "AUC"},
    ]
    for variant, model_rate, value in (("fp32", 300.0, 17.0), ("int8", 600.0, 20.0)):
        rows.append({"stage": "real", "real": "model", "variant": variant, "value": model_rate})
        rows.append({"stage": "real", "real": "embed", "variant": variant, "value": value, "views": 10})
    return rows


def test_real_rows_derive_bound_and_ratio_per_painting() -> None:
    from bench.suite import Options, _Suite

    suite = _Suite(Options(settings=SMOKE))
    suite.cores = 2
    suite.rows = _real_rows()
    suite.derive_real()
    embed = {r["variant"]: r for r in suite.rows if r.get("real") == "embed"}
    # 10 views a painting: the model's 300 views/s are 30 paintings/s.
    assert embed["fp32"]["model_rate"] == pytest.approx(30.0)
    assert embed["fp32"]["bound"] == pytest.approx(stage_bound(20.0, 30.0, 2))
    assert embed["fp32"]["bound_fraction"] == pytest.approx(17.0 / stage_bound(20.0, 30.0, 2))
    assert embed["int8"]["vs_usual"] == pytest.approx(4.0)
    verdicts = {t.name: t for t in evaluate(suite.rows)}
    assert verdicts["real model embed fp32 / usual way (same views)"].status == "met"  # 3.4x
    assert verdicts["real model embed fp32 / usual way (same views)"].measured == pytest.approx(3.4)
    int8_bound = verdicts["real model embed int8 / its stage bound"]
    assert int8_bound.measured == pytest.approx(embed["int8"]["bound_fraction"])
    assert int8_bound.status == _verdict(int8_bound.to_dict())
    assert verdicts["real model int8 AUC drift, held-out artists"].status == "met"
    suite.rows[2]["value"] = 0.006
    assert {t.name: t.status for t in evaluate(suite.rows)}[
        "real model int8 AUC drift, held-out artists"
    ] == ("not met")
    statuses = {t.name: t.status for t in evaluate([])}
    assert all(statuses[name] == "not measured" for name in statuses if name.startswith("real model"))


def test_auc_drift_reads_the_fold_runs_else_labels_the_model_card(tmp_path: Path) -> None:
    from bench.real import auc_drift

    repo, shared = tmp_path / "repo", tmp_path / "shared"
    card = repo / "painter_match" / "models" / "MODEL_CARD.md"
    card.parent.mkdir(parents=True)
    card.write_text("It differs from the fp32 model by -0.0011 mean (from -0.0024 to +0.0004 a fold) AUC.\n")
    stated = auc_drift(repo, shared)
    assert stated["value"] == pytest.approx(-0.0011) and stated["source"].startswith("model card")
    for k, (fp32, int8) in enumerate([(0.90, 0.899), (0.88, 0.883)]):
        run = repo / "runs" / f"real-fold{k}"
        run.mkdir(parents=True)
        (run / "evaluate.json").write_text(json.dumps({"roc_auc": fp32}))
        (run / "evaluate-int8.json").write_text(json.dumps({"roc_auc": int8}))
    assert auc_drift(repo, shared)["source"].startswith("model card")  # no shared data: not measured
    for name in ("wikiart-224", "real-paintings-128"):
        (shared / name).mkdir(parents=True)
    measured = auc_drift(repo, shared)
    assert measured["value"] == pytest.approx(0.001) and measured["folds"] == 2
    assert measured["source"].startswith("measured")
    card.unlink()
    assert auc_drift(tmp_path / "empty", shared)["value"] is None


@pytest.mark.slow
def test_real_stage_rows_at_tiny_sizes(tmp_path: Path) -> None:
    """The ``real`` stage end to end on a tiny default model and twin: every row and target is there."""
    from bench import data
    from bench.networks import prepare

    work = tmp_path / "work"
    calibration = [str(p) for paths in data.realistic_images(work, 1).values() for p in paths]
    made = prepare(str(work), "compact", 32, 16, calibration)
    out = tmp_path / "bench.json"
    argv = ["--smoke", "--stage", "real", "--workdir", str(work), "--json", str(out), "-q"]
    argv += ["--real-model", made["variants"]["int8"], "--real-twin", made["variants"]["fp32"]]
    assert main(argv) == 0
    document = json.loads(out.read_text())
    assert document["stages"] == ["real"] and not document["errors"]
    rows = document["rows"]
    kinds = sorted(r.get("real", "drift") for r in rows)
    assert kinds == ["decode"] * 3 + ["decode mix", "drift", "embed", "embed", "model", "model", "usual"]
    embed = {r["variant"]: r for r in rows if r.get("real") == "embed"}
    assert set(embed) == {"fp32", "int8"}
    for row in embed.values():
        assert row["unit"] == "paintings/s" and row["views"] == 1
        assert row["value"] > 0 and row["views_per_s"] == pytest.approx(row["value"])
        assert row["bound"] > 0 and row["bound_fraction"] > 0 and row["vs_usual"] > 0
        assert row["peak_rss_mb"] > 0
    assert embed["fp32"]["source"] == "fp32 twin fp32.onnx" and embed["int8"]["source"] == "given"
    targets = {t["name"]: t for t in document["targets"] if t["name"].startswith("real model")}
    assert len(targets) == 4
    for name, target in targets.items():
        assert target["measured"] is not None and target["status"] == _verdict(target), name


def test_usual_way_makes_the_same_views_as_painter_match() -> None:
    pytest.importorskip("torchvision", reason="compares with torchvision's transforms (the [train] extra)")
    import numpy as np
    from PIL import Image

    from bench.usual_way import ViewsTransform

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (120, 180, 3), dtype=np.uint8))
    views = ViewsTransform(32, 4, 2.0)(image)
    assert tuple(views.shape) == (5, 3, 32, 32)
    assert float(views.min()) >= 0.0 and float(views.max()) <= 1.0
