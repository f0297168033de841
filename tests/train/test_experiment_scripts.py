"""Smoke test of docs/experiments/yardsticks.py, the instrument behind docs/real-photographs.md.

Its pure parts run on tiny random data: the head's training, embedding, the scores (raw,
centred, per-dimension standardised, z-norm and s-norm) with their verdict figures, and the table
it prints from runs/yardsticks.jsonl. Nothing here reads ../shared/data or the network.
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from painter_match.data.catalogue import artist_key
from painter_match.data.selection import FOLD_SEED, fold_artists
from painter_match.inference.calibration import Calibration, fit_calibration
from painter_match.metrics import log_loss, roc_auc

torch = pytest.importorskip("torch", reason="docs/experiments/yardsticks.py needs the [train] extra (torch)")
pytest.importorskip(
    "torchvision", reason="docs/experiments/yardsticks.py needs the [train] extra (torchvision)"
)

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "experiments" / "yardsticks.py"


@pytest.fixture(scope="module")
def ys() -> ModuleType:
    """The script imported as a module (its ``__main__`` part does not run)."""
    threads = torch.get_num_threads()
    spec = importlib.util.spec_from_file_location("yardsticks_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        torch.set_num_threads(threads)  # the script pins 2 threads at import; the suite keeps its own
    return module


def _features(
    n_artists: int = 4, per: int = 12, views: int = 2, d: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Frozen "statistics" [n, views, d], well apart by artist, and the artists' names."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_artists, d)) * 4
    labels = np.repeat(np.array([f"artist {a}" for a in range(n_artists)]), per)
    index = np.repeat(np.arange(n_artists), per)
    X = centres[index][:, None, :] + rng.normal(size=(len(index), views, d)) * 0.5
    return X.astype(np.float32), labels


def _separable(n_artists: int = 4, per: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings, each artist's near its own axis: every same-artist pair beats every other."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_artists), per)
    E = np.eye(n_artists, dtype=np.float32)[labels] + rng.normal(size=(len(labels), n_artists)) * 0.05
    return (E / np.linalg.norm(E, axis=1, keepdims=True)).astype(np.float32), labels


def _cfg(ys: ModuleType, **changes: object) -> dict:
    cfg = dict(ys.DEF, epochs=1, hidden=32, dim=8)
    cfg.update(changes)
    return cfg


def test_parse_takes_the_name_and_typed_options(ys: ModuleType) -> None:
    name, cfg = ys.parse(["candidate", "views=global,flip,photo1", "epochs=3", "imagenet_weight=0.5"])
    assert name == "candidate"
    assert cfg["views"] == "global,flip,photo1" and cfg["epochs"] == 3 and cfg["imagenet_weight"] == 0.5
    assert cfg["folds"] == ys.DEF["folds"] == "0,1,2,3"
    with pytest.raises(KeyError):
        ys.parse(["x", "no_such_key=1"])


def test_folds_are_the_packages_and_the_scripts_former_copy(ys: ModuleType) -> None:
    rng = np.random.default_rng(3)
    # names that `artist_key` changes (accents, case, separators), one spelling an artist, as
    # `read_catalogue` leaves them
    names = [
        f"{first} {last}-{i}"
        for i in range(60)
        for first, last in [("Édouard", "Manet"), ("berthe", "MORISOT")]
    ]
    P = pd.DataFrame({"artist": rng.choice(names, 400)})
    folds = ys.folds_of(P)
    assert set(folds) == set(P["artist"]) and set(folds.values()) == {0, 1, 2, 3}
    for k in range(4):
        assert {artist_key(a) for a, f in folds.items() if f == k} == fold_artists(P, f"{k}/4")
    # The copy the script had before it took the package's: the same artists in every fold.
    artists = sorted(P["artist"].unique(), key=artist_key)
    order = np.random.default_rng(FOLD_SEED).permutation(len(artists))
    assert folds == {artists[i]: k % 4 for k, i in enumerate(order)}
    # Two spellings of one artist (which `read_catalogue` never leaves) share the trainer's fold.
    two = ys.folds_of(pd.DataFrame({"artist": [*names[:9], "Claude Monet", "claude_monet"]}))
    assert two["Claude Monet"] == two["claude_monet"]


def test_train_head_and_embed(ys: ModuleType) -> None:
    X, labels = _features()
    rows = np.arange(len(X))
    cfg = _cfg(ys)
    torch.manual_seed(cfg["seed"] + 7)
    initial = ys.head_model(X.shape[2], cfg).state_dict()
    h = ys.train_head(X, rows, labels, [0, 1], cfg, seed=7)
    assert not h.training
    trained = h.state_dict()
    assert any(not torch.equal(initial[k], trained[k]) for k in initial if k.endswith("weight"))
    again = ys.train_head(X, rows, labels, [0, 1], cfg, seed=7)
    assert all(torch.equal(trained[k], again.state_dict()[k]) for k in trained)  # seeded

    E = ys.embed(h, X[:, 0], cfg)
    assert E.shape == (len(X), cfg["dim"]) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    iu, ju, same = ys.all_pairs(labels)
    assert same.sum() == 4 * (12 * 11 // 2) and len(same) == 48 * 47 // 2
    assert roc_auc(same, (E @ E.T)[iu, ju]) > 0.95  # artists far apart stay apart

    # The ImageNet part: the standardised head-conv columns, concatenated at their weight.
    cols = (4, 10)
    Z = X[:, 0, cols[0] : cols[1]]
    stats = (Z.mean(0), Z.std(0) + 1e-6)
    both = ys.embed(h, X[:, 0], _cfg(ys, imagenet_weight=0.5), stats, cols)
    assert both.shape == (len(X), cfg["dim"] + 6)
    np.testing.assert_allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    z = (Z - stats[0]) / stats[1]
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    expected = np.concatenate([E, 0.5 * z], axis=1)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(both, expected, atol=1e-5)
    assert ys.imagenet(X[:, 0], cols).shape == (len(X), 6)


def test_normalised_scores_and_standardise_dims(ys: ModuleType) -> None:
    E, _ = _separable(3, 4)
    S = E @ E.T
    n = len(S)
    off = ~np.eye(n, dtype=bool)
    Zn = ys.normalised_scores(S, "znorm")
    assert Zn[off].mean() == pytest.approx(0.0, abs=1e-5) and Zn[off].std() == pytest.approx(1.0, abs=1e-4)
    Sn = ys.normalised_scores(S, "snorm")
    mu = np.array([S[i, off[i]].mean() for i in range(n)])
    sd = np.array([S[i, off[i]].std() for i in range(n)])
    Zi = (S - mu[:, None]) / sd[:, None]
    np.testing.assert_allclose(Sn, 0.5 * (Zi + Zi.T), atol=1e-4)
    np.testing.assert_allclose(Sn, Sn.T)

    D = ys.standardise_dims(E)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, atol=1e-5)
    manual = (E - E.mean(0)) / (E.std(0) + 1e-6)
    np.testing.assert_allclose(D, manual / np.linalg.norm(manual, axis=1, keepdims=True), atol=1e-5)
    ref = E[::-1] * 2 + 1
    manual = (E - ref.mean(0)) / (ref.std(0) + 1e-6)
    np.testing.assert_allclose(
        ys.standardise_dims(E, ref), manual / np.linalg.norm(manual, axis=1, keepdims=True), atol=1e-5
    )


def test_verdicts_count_the_calls_at_one_half(ys: ModuleType) -> None:
    sim = np.array([0.9, 0.8, 0.2, 0.1, 0.7])
    same = np.array([True, True, False, False, False])
    cal = Calibration(slope=10.0, intercept=-5.0, threshold=0.5, positive_share=0.5, pairs=5)
    v = ys.verdicts(sim, same, cal)
    assert v["accuracy"] == pytest.approx(0.8)
    assert v["all_different"] == pytest.approx(0.6)
    assert v["fp_share"] == pytest.approx(1 / 3) and v["tp_share"] == 1.0
    p = 1 / (1 + np.exp(-(10 * sim - 5)))
    assert v["log_loss"] == pytest.approx(log_loss(same, p), rel=1e-5)
    # bins of 0.1: 0.982 and 0.953 (both same) in bin 9, 0.047 and 0.018 in bin 0, 0.881 in bin 8
    ece = (abs(p[:2].mean() - 1) * 2 + p[2] + p[3] + p[4]) / 5
    assert v["ece"] == pytest.approx(ece, rel=1e-5)


def test_score_set_on_a_separable_set_with_validation_calibrations(ys: ModuleType) -> None:
    E, labels = _separable()
    plain = ys.score_set(E, labels)
    sweep = plain.pop("sweep")
    assert set(plain) == {"raw", "centred", "dimstd", "znorm", "snorm"}
    assert all(v == 1.0 for v in plain.values()), plain
    # Shares of different- and same-artist pairs at or above each threshold in collection units:
    # falling as it rises, and the separable set's same-artist pairs always ahead.
    assert list(sweep) == [str(t) for t in ys.SWEEP]
    different = [sweep[str(t)][0] for t in ys.SWEEP]
    assert different == sorted(different, reverse=True)
    assert all(same >= diff for diff, same in sweep.values())

    # Calibrations as run() fits them: on a trained head's validation artists.
    X, names = _features(n_artists=6, per=8)
    va, tr = np.arange(0, 16), np.arange(16, 48)  # two validation artists, four training ones
    cfg = _cfg(ys)
    h = ys.train_head(X, tr, names[tr], [0, 1], cfg, seed=0)
    cal_raw = ys.validation_calibration(h, X, va, names[va], cfg, centre=False)
    cal_c = ys.validation_calibration(h, X, va, names[va], cfg, centre=True, train_rows=tr)
    cal_norm = {
        m: ys.validation_calibration(h, X, va, names[va], cfg, True, m, tr) for m in (*ys.NORMS, "dimstd")
    }
    cal_all = ys.validation_calibration(h, X, va, names[va], _cfg(ys, cal_mean="all"), True, "znorm", tr)
    for cal in (cal_raw, cal_c, cal_all, *cal_norm.values()):
        assert isinstance(cal, Calibration) and cal.slope > 0 and cal.positive_share == 0.5
    # The plain calibration is fit_calibration on the balanced raw cosines.
    E_va = ys.embed(h, X[va, 0], cfg)
    iu, ju, same = ys.all_pairs(names[va])
    neg = np.random.default_rng(0).choice(np.flatnonzero(~same), int(same.sum()), replace=False)
    keep = np.concatenate([np.flatnonzero(same), neg])
    assert cal_raw == fit_calibration((E_va @ E_va.T)[iu[keep], ju[keep]], same[keep])

    scored = ys.score_set(E, labels, cal_raw, cal_c, cal_norm)
    assert {k: scored[k] for k in plain} == plain
    iu, ju, same = ys.all_pairs(labels)
    for mode in ("raw", "centred", "dimstd", "znorm", "snorm"):
        v = scored[f"verdict_{mode}"]
        assert v["all_different"] == pytest.approx(float((~same).mean()))
        assert 0.0 <= v["fp_share"] <= 1.0 and 0.0 <= v["tp_share"] <= 1.0 and 0.0 <= v["ece"] <= 1.0
    assert scored["verdict_raw"] == ys.verdicts((E @ E.T)[iu, ju], same, cal_raw)


def _result(name: str, shift: float) -> dict:
    """One line of runs/yardsticks.jsonl, with the fields `table` reads, as `run` writes them."""
    modes = ("raw", "centred", "dimstd", "znorm", "snorm")

    def scores(base: float) -> dict:
        return {m: base + shift + 0.01 * i for i, m in enumerate(modes)}

    def gallery(top1: float) -> dict:
        return dict(
            wall=dict(top1=top1, top5=top1 + 0.1, mrr=top1),
            cropped=dict(top1=top1 + 0.05, top5=1.0, mrr=1.0),
            auc=0.8 + shift,
        )

    folds = {k: scores(0.9 - 0.01 * k) for k in range(4)}  # int keys, as run() has them
    folds[0].update(imagenet=0.84, colour=0.67, photographed={"1.0": {**scores(0.75), "imagenet": 0.73}})
    cross = {
        "wikiart-224->real-paintings-128": {**scores(0.73), "imagenet": 0.71, "colour": 0.63},
        "real-paintings-128->wikiart-224": {**scores(0.81), "imagenet": 0.83, "colour": 0.68},
    }
    g = {m: gallery(0.7 + shift) for m in modes}
    g.update(imagenet=gallery(0.8), colour=gallery(0.2))
    return {"name": name, "cfg": {}, "folds": folds, "cross": cross, "gallery": g, "seconds": 1.0}


def test_table_prints_a_row_per_recipe_and_scoring(
    ys: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "yardsticks.jsonl"
    lines = [_result("preset", 0.5), _result("candidate", 0.02), _result("preset", 0.0)]
    file.write_text("".join(json.dumps(r) + "\n" for r in lines))
    text = ys.table(file)
    out = text.splitlines()
    assert len(out) == 2 + 2 * 4 + 2  # head, rule, 4 scorings of 2 recipes, 2 baselines
    assert out[1] == "|" + "---|" * 9
    assert [r.split(" | ")[:2] for r in out[2:]] == [
        *[["| preset", m] for m in ("raw", "centred", "znorm", "snorm")],
        *[["| candidate", m] for m in ("raw", "centred", "znorm", "snorm")],
        ["| imagenet (no training)", "standardised"],
        ["| colour (no training)", "standardised"],
    ]
    # preset's last line wins (shift 0): folds 0.90, 0.89, 0.88, 0.87 -> mean 0.885 raw
    assert out[2] == ("| preset | raw | 0.8850 | 0.7300 | 0.8100 | 0.7500 | 0.700 / 0.800 | 0.750 | 0.8000 |")
    assert out[5].startswith("| preset | snorm | 0.9250 | 0.7700 | 0.8500 | 0.7900 |")
    assert out[6].startswith("| candidate | raw | 0.9050 | 0.7500 | 0.8300 | 0.7700 | 0.720 / 0.820 |")
    # the baselines come from the last line read (candidate's): fold 0 only, cross-source, gallery
    assert out[10] == (
        "| imagenet (no training) | standardised | 0.8400 (fold 0) | 0.7100 | 0.8300 | 0.7300 | "
        "0.800 / 0.900 | 0.850 | 0.8200 |"
    )
    assert out[11].startswith(
        "| colour (no training) | standardised | 0.6700 (fold 0) | 0.6300 | 0.6800 | None |"
    )

    # The command line prints the same table (run here: a fresh Python spends seconds importing torch).
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "table", str(file)])
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    assert capsys.readouterr().out == text + "\n"


def test_different_pair_statistics_are_those_of_the_pairs_by_different_artists(ys: ModuleType) -> None:
    rng = np.random.default_rng(5)
    A = rng.normal(size=(30, 6))
    labels = np.repeat(np.arange(6), 5)
    iu, ju = np.triu_indices(30, 1)
    different = labels[iu] != labels[ju]
    s = (A[iu] * A[ju]).sum(1)[different]
    mean, std = ys.different_pair_statistics(A, labels)
    assert mean == pytest.approx(s.mean()) and std == pytest.approx(s.std())
