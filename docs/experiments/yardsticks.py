"""Recipes measured on three yardsticks, on cached frozen Lite0 statistics (issue 23).

python docs/experiments/yardsticks.py NAME key=value ...  -> one JSON line in runs/yardsticks.jsonl

a. folds: the 4 artist-disjoint folds of both shared sets (the package's `fold_artists`, as
   `train --hold-out-fold K/4`), all pairs of held-out paintings (at most 60 per artist);
b. cross-source: the head trained on one folder, scored on the other folder's artists it lacks;
c. photographs: gallery-photos (photo -> catalogue top-1/top-5/MRR, cropped and wall photos
   apart; photo-catalogue same-artist AUC), and fold 0's held-out paintings photographed
   (`painter_match.data.photographed`, test ranges) at several strengths.
Each with raw cosines and centred on the evaluated collection (`painter_match.inference.collection`),
beside ImageNet features with no training (head-conv channel means standardised over the set) and
colour histograms. Verdict figures use a calibration fitted on the run's own validation artists.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from painter_match.data.catalogue import artist_key, read_catalogue
from painter_match.data.images import load_image, load_pixels
from painter_match.data.photographed import TEST_RANGES, photograph, seed_for
from painter_match.data.selection import cap_per_artist, fold_artists
from painter_match.evaluation.baselines import colour_histogram
from painter_match.inference.calibration import fit_calibration
from painter_match.inference.collection import centre_on
from painter_match.inference.collection import collection_mean as _collection_mean
from painter_match.metrics import log_loss, roc_auc
from painter_match.train.backbones import build_encoder
from painter_match.train.feature_cache import build_feature_cache
from painter_match.train.losses import TripletLoss

torch.set_num_threads(2)
DATA = Path("../shared/data").resolve()
RUNS = Path("runs")
CACHE = RUNS / "feature-cache"
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
DEF = dict(
    views="global,flip",
    epochs=6,
    lr=3e-4,
    wd=1e-2,
    hidden=512,
    dim=256,
    dropout=0.5,
    cap=120,
    margin=0.2,
    seed=0,
    imagenet_weight=0.0,
    folds="0,1,2,3",
    val_fraction=0.1,
    cal_mean="val",
    min_val=2,
    z_units="all",
    centre_imagenet=1.0,
)


def parse(argv: list[str]) -> tuple[str, dict]:
    cfg = dict(DEF)
    for kv in argv[1:]:
        k, v = kv.split("=", 1)
        cfg[k] = type(DEF[k])(v)
    return argv[0], cfg


def features(cfg: dict | None = None) -> dict:
    """Every set's frozen statistics, from (and into) the feature cache."""
    enc = build_encoder(
        "efficientnet_lite0", embedding_dim=256, input_size=224, pretrained=True, features="style"
    )
    cat = read_catalogue([DATA / "real-paintings-128", DATA / "wikiart-224"], subset="train")
    P = cat.paintings.reset_index(drop=True)
    assert Path(cat.root).resolve() == DATA
    names = tuple(
        dict.fromkeys(
            (["global", "flip"] if not cfg or not cfg.get("only") else [])
            + (cfg["views"].split(",") if cfg else [])
        )
    )
    main = build_feature_cache(enc, DATA, list(P["path"]), view_names=names, cache_dir=CACHE)
    if cfg and cfg.get("only"):
        return {}
    gal_cat = pd.read_csv(DATA / "gallery-photos/catalogue.csv", keep_default_na=False)
    gal_photos = pd.read_csv(DATA / "gallery-photos/photos.csv", keep_default_na=False)
    gal_paths = ["gallery-photos/" + f for f in gal_cat["filename"]] + [
        "gallery-photos/" + f for f in gal_photos["photo"]
    ]
    gal = build_feature_cache(enc, DATA, gal_paths, view_names=("global",), cache_dir=CACHE)
    # Column range of the head conv's channel means (the ImageNet baseline's pooled features).
    start, cols = 0, {}
    for tap in enc.backbone.taps:
        c = enc.backbone.net.tap_channels[tap]
        cols[tap] = (start, start + c)
        start += 2 * c
    return dict(
        enc=enc,
        P=P,
        X=main.features,
        ok=main.readable,
        names=names,
        gal_cat=gal_cat,
        gal_photos=gal_photos,
        G=gal.features[:, 0],
        head_cols=cols["head"],
    )


def folds_of(P: pd.DataFrame) -> dict:
    """Each artist's fold of 4 (0-3): the package's `fold_artists`, so `train --hold-out-fold K/4`'s."""
    fold_of_key = {key: k for k in range(4) for key in fold_artists(P, f"{k}/4")}
    return {a: fold_of_key[artist_key(a)] for a in P["artist"].unique()}


def photographed_set(F_: dict, rows: np.ndarray) -> dict[float, np.ndarray]:
    """Fold 0's test paintings photographed at each strength: their frozen statistics [n, D]."""
    root = RUNS / "photographed"
    out = {}
    enc = F_["enc"]
    for s in STRENGTHS[1:]:
        rels = []
        for r in rows:
            rel = f"s{s}/{F_['P']['path'][r]}"
            target = root / rel
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                image = load_image(DATA / F_["P"]["path"][r])
                photograph(image, s, seed_for(F_["P"]["path"][r], f"test-{s}"), TEST_RANGES).save(
                    target, quality=95
                )
            rels.append(rel)
        out[s] = build_feature_cache(enc, root, rels, view_names=("global",), cache_dir=CACHE).features[:, 0]
    return out


_HIST: dict[str, np.ndarray] = {}


def histograms(root: Path, rels: list[str]) -> np.ndarray:
    file = RUNS / "histograms.npz"
    if not _HIST and file.exists():
        with np.load(file) as d:
            _HIST.update({k: d[k] for k in d.files})
    missing = [r for r in rels if str(root / r) not in _HIST]
    for r in missing:
        _HIST[str(root / r)] = colour_histogram(load_pixels(root / r, 224))
    if missing:
        np.savez(file, **_HIST)
    return np.stack([_HIST[str(root / r)] for r in rels])


def head_model(D: int, cfg: dict) -> nn.Module:
    return nn.Sequential(
        nn.BatchNorm1d(D),
        nn.Linear(D, cfg["hidden"]),
        nn.ReLU(),
        nn.Dropout(cfg["dropout"]),
        nn.Linear(cfg["hidden"], cfg["dim"]),
    )


def train_head(
    X: np.ndarray, rows: np.ndarray, labels: np.ndarray, view_idx: list[int], cfg: dict, seed: int
):
    uniq, y = np.unique(labels, return_inverse=True)
    torch.manual_seed(cfg["seed"] + seed)
    h = head_model(X.shape[2], cfg)
    trip = TripletLoss(cfg["margin"], "semihard")
    opt = torch.optim.AdamW(h.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    n = len(rows)
    per_epoch = math.ceil(n / 256)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], total_steps=per_epoch * cfg["epochs"], pct_start=0.1
    )
    g = np.random.default_rng(cfg["seed"] + seed)
    by_artist = [np.flatnonzero(y == c) for c in range(len(uniq))]
    yt = torch.from_numpy(y)
    for _ in range(cfg["epochs"]):
        h.train()
        for _ in range(per_epoch):
            # 64 artists x 4 paintings, or as many artists as there are (31 in real-paintings-128) x more
            n_art = min(64, len(uniq))
            k = max(4, 256 // n_art)
            arts = g.choice(len(uniq), n_art, replace=False)
            idx = np.concatenate([g.choice(by_artist[a], k, replace=len(by_artist[a]) < k) for a in arts])
            v = g.choice(view_idx, len(idx))
            e = F.normalize(h(torch.from_numpy(X[rows[idx], v])), dim=1)
            loss = trip(e, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    h.eval()
    return h


def embed(h: nn.Module, feats: np.ndarray, cfg: dict, imagenet_stats=None, head_cols=None) -> np.ndarray:
    with torch.no_grad():
        e = F.normalize(h(torch.from_numpy(np.ascontiguousarray(feats))), dim=1).numpy()
    if cfg["imagenet_weight"] > 0:
        mu, sd = imagenet_stats
        z = (feats[:, head_cols[0] : head_cols[1]] - mu) / sd
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        e = np.concatenate([e, cfg["imagenet_weight"] * z], axis=1)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
    return e.astype(np.float32)


def imagenet(feats: np.ndarray, head_cols) -> np.ndarray:
    z = feats[:, head_cols[0] : head_cols[1]]
    z = (z - z.mean(0)) / (z.std(0) + 1e-6)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def all_pairs(labels: np.ndarray):
    iu, ju = np.triu_indices(len(labels), 1)
    return iu, ju, labels[iu] == labels[ju]


def verdicts(sim: np.ndarray, same: np.ndarray, cal) -> dict:
    p = cal.probability(sim).astype(np.float64)
    called = p >= 0.5
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(p[bins == b].mean() - same[bins == b].mean()) * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    return dict(
        accuracy=float((called == same).mean()),
        all_different=float((~same).mean()),
        fp_share=float(called[~same].mean()),
        tp_share=float(called[same].mean()),
        log_loss=float(log_loss(same, p)),
        ece=float(ece),
    )


def normalised_scores(S: np.ndarray, mode: str) -> np.ndarray:
    """Scores of a collection's similarity matrix standardised by the collection itself.

    ``znorm``: by the mean and std of all its off-diagonal pairs; ``snorm``: symmetric per-painting
    normalisation (each painting's mean and std against the rest of the collection, averaged over
    the pair's two ends, as speaker verification's S-norm does with a cohort).
    """
    n = len(S)
    off = ~np.eye(n, dtype=bool)
    if mode == "znorm":
        v = S[off].astype(np.float64)
        return ((S - v.mean()) / v.std()).astype(np.float32)
    mu = (S.sum(1) - np.diag(S)) / (n - 1)
    sq = ((S**2).sum(1) - np.diag(S) ** 2) / (n - 1)
    sd = np.sqrt(np.maximum(sq - mu**2, 1e-12))
    Z = (S - mu[:, None]) / sd[:, None]
    return (0.5 * (Z + Z.T)).astype(np.float32)


NORMS = ("znorm", "snorm")
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)


def sweep(z: np.ndarray, same: np.ndarray) -> dict:
    """Shares of different- and same-artist pairs at or above each threshold in collection units."""
    return {str(t): (float((z[~same] >= t).mean()), float((z[same] >= t).mean())) for t in SWEEP}


def standardise_dims(E: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """Each dimension centred and scaled by the collection's (``ref``'s) mean and std, rows unit."""
    ref = E if ref is None else ref
    Z = (E - ref.mean(0)) / (ref.std(0) + 1e-6)
    return (Z / np.linalg.norm(Z, axis=1, keepdims=True)).astype(np.float32)


def score_set(E: np.ndarray, labels: np.ndarray, cal_raw=None, cal_centred=None, cal_norm=None) -> dict:
    iu, ju, same = all_pairs(labels)
    out = {"raw": roc_auc(same, (E @ E.T)[iu, ju])}
    C = centre_on(E, part_mean(E))
    SC = C @ C.T
    sc = SC[iu, ju]
    out["centred"] = roc_auc(same, sc)
    if cal_centred is not None:
        out["verdict_centred"] = verdicts(sc, same, cal_centred)
    D = standardise_dims(E)
    SD = D @ D.T
    out["dimstd"] = roc_auc(same, SD[iu, ju])
    if cal_norm is not None and "dimstd" in cal_norm:
        out["verdict_dimstd"] = verdicts(normalised_scores(SD, "znorm")[iu, ju], same, cal_norm["dimstd"])
    for mode in NORMS:
        sn = normalised_scores(SC, mode)[iu, ju]
        out[mode] = roc_auc(same, sn)
        if mode == "znorm":
            out["sweep"] = sweep(sn, same)
        if cal_norm is not None:
            out[f"verdict_{mode}"] = verdicts(sn, same, cal_norm[mode])
    if cal_raw is not None:
        out["verdict_raw"] = verdicts((E @ E.T)[iu, ju], same, cal_raw)
    return out


def gallery(E_cat: np.ndarray, E_ph: np.ndarray, F_: dict, centre: bool, cal=None, norm=None) -> dict:
    gc, gp = F_["gal_cat"], F_["gal_photos"]
    if norm == "dimstd":
        A = standardise_dims(np.concatenate([E_cat, E_ph]))
        E_cat, E_ph = A[: len(E_cat)], A[len(E_cat) :]
        centre, norm = False, "znorm"
    if centre:
        mean = part_mean(np.concatenate([E_cat, E_ph]))
        E_cat, E_ph = centre_on(E_cat, mean), centre_on(E_ph, mean)
    S = E_ph @ E_cat.T
    if norm is not None:
        A = np.concatenate([E_cat, E_ph])
        S = normalised_scores(A @ A.T, norm)[len(E_cat) :, : len(E_cat)]
    own = np.array([list(gc["filename"]).index(c) for c in gp["catalogue_image"]])
    rank = (S > S[np.arange(len(own)), own][:, None]).sum(1)
    out = {}
    for kind in ("cropped", "wall"):
        m = gp["photo"].str.startswith(f"photos-{kind}").to_numpy()
        out[kind] = dict(
            top1=float((rank[m] == 0).mean()),
            top5=float((rank[m] < 5).mean()),
            mrr=float((1 / (rank[m] + 1)).mean()),
        )
    # Same artist across the two kinds of picture: each photo against every labelled catalogue image
    # other than its own painting.
    ca, pa = gc["artist"].to_numpy(), gp["artist"].to_numpy()
    keep_c = ca != ""
    sims, same = [], []
    for i in range(len(gp)):
        if pa[i] == "":
            continue
        cols = np.flatnonzero(keep_c & (np.arange(len(gc)) != own[i]))
        sims.append(S[i, cols])
        same.append(ca[cols] == pa[i])
    sims, same = np.concatenate(sims), np.concatenate(same)
    out["auc"] = roc_auc(same, sims)
    if norm == "znorm":
        out["sweep"] = sweep(sims, same)
    if cal is not None:
        out["verdict"] = verdicts(sims, same, cal)
    return out


def validation_calibration(h, X, rows, labels, cfg, centre: bool, norm: str | None = None, train_rows=None):
    """Platt fit on all pairs of the run's validation artists (held out of its training).

    Centred on the validation paintings' own mean (``cal_mean=val``) or on the mean of the training
    and validation paintings together (``cal_mean=all``): a few validation artists make a collection
    unlike the many-artist ones the calibration is used on.
    """
    E = embed(h, X[rows, 0], cfg, _STATS.get("imagenet"), _STATS.get("head_cols"))
    z_stats = None
    if centre:
        if cfg["cal_mean"] == "all":
            E_tr = embed(h, X[train_rows, 0], cfg, _STATS.get("imagenet"), _STATS.get("head_cols"))
            mean = part_mean(np.concatenate([E, E_tr]))
            E = centre_on(E, mean)
            if norm == "znorm":
                # the pair-score statistics of the many-artist collection (training + validation)
                A = np.concatenate([E, centre_on(E_tr, mean)]).astype(np.float64)
                n = len(A)
                total = A.sum(0)
                sq = (A * A).sum(1)
                mu = (total @ total - sq.sum()) / (n * (n - 1))
                G = A.T @ A
                second = ((G * G).sum() - (sq * sq).sum()) / (n * (n - 1))
                z_stats = (mu, np.sqrt(second - mu * mu))
                if cfg["z_units"] != "all":
                    # Different-artist pairs of every painting (diff_all) or of the validation ones.
                    rows = len(A) if cfg["z_units"] == "diff_all" else len(E)
                    every_label = np.concatenate([labels, _STATS["artist"][train_rows]])
                    z_stats = different_pair_statistics(A[:rows], every_label[:rows])
        else:
            E = centre_on(E, part_mean(E))
    iu, ju, same = all_pairs(labels)
    # Balanced, as the trainer's validation pairs are: every same-artist pair, as many others.
    g = np.random.default_rng(0)
    neg = g.choice(np.flatnonzero(~same), int(same.sum()), replace=False)
    keep = np.concatenate([np.flatnonzero(same), neg])
    if norm == "dimstd":
        E0 = embed(h, X[rows, 0], cfg, _STATS.get("imagenet"), _STATS.get("head_cols"))
        E_tr = embed(h, X[train_rows, 0], cfg, _STATS.get("imagenet"), _STATS.get("head_cols"))
        allE = np.concatenate([E0, E_tr])
        A = standardise_dims(allE)
        Sa = A @ A.T
        off = ~np.eye(len(A), dtype=bool)
        mu, sd = Sa[off].mean(), Sa[off].std()
        S = (Sa[: len(E0), : len(E0)] - mu) / sd
    elif z_stats is not None:
        S = ((E @ E.T) - z_stats[0]) / z_stats[1]
    else:
        S = E @ E.T if norm is None else normalised_scores(E @ E.T, norm)
    return fit_calibration(S[iu[keep], ju[keep]], same[keep])


def part_mean(E: np.ndarray) -> np.ndarray:
    """The collection's mean, its ImageNet part (after the trained ``dim`` numbers) scaled by ``centre_imagenet``."""
    mean = _collection_mean(E).copy()
    mean[_STATS.get("dim", len(mean)) :] *= _STATS.get("centre_imagenet", 1.0)
    return mean


def different_pair_statistics(A: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean and std of the similarities of the pairs of rows of ``A`` by different artists."""
    A = A.astype(np.float64)
    sq = (A * A).sum(1)
    total = A.sum(0)
    G = A.T @ A
    n_all = len(A) * (len(A) - 1) / 2
    s1 = (total @ total - sq.sum()) / 2
    s2 = ((G * G).sum() - (sq * sq).sum()) / 2
    n_same = 0.0
    for a in np.unique(labels):
        B = A[labels == a]
        t = B.sum(0)
        q = (B * B).sum(1)
        H = B.T @ B
        n_same += len(B) * (len(B) - 1) / 2
        s1 -= (t @ t - q.sum()) / 2
        s2 -= ((H * H).sum() - (q * q).sum()) / 2
    n = n_all - n_same
    mu = s1 / n
    return mu, float(np.sqrt(s2 / n - mu * mu))


_STATS: dict = {}
_CAL_NORM: dict = {}


def run(name: str, cfg: dict) -> dict:
    t0 = time.time()
    F_ = features(cfg)
    P, X, ok, hc = F_["P"], F_["X"], F_["ok"], F_["head_cols"]
    view_idx = [F_["names"].index(v) for v in cfg["views"].split(",")]
    # The ImageNet part's fixed per-dimension scale: the training paintings' statistics.
    Z = X[ok, 0, hc[0] : hc[1]]
    _STATS.update(imagenet=(Z.mean(0), Z.std(0) + 1e-6), head_cols=hc)
    fold_of = folds_of(P)
    source = P["path"].str.split("/").str[0].to_numpy()
    artist = P["artist"].to_numpy()
    _STATS.update(artist=artist, dim=cfg["dim"], centre_imagenet=cfg["centre_imagenet"])
    rng_artists = np.random.default_rng(7)
    result: dict = {"name": name, "cfg": cfg}

    def split_train(train_mask: np.ndarray, seed: int):
        """Train rows (cap per artist) and validation rows (a tenth of the artists, for calibration)."""
        arts = sorted(set(artist[train_mask]), key=artist_key)
        val = set(rng_artists.permutation(arts)[: max(cfg["min_val"], int(len(arts) * cfg["val_fraction"]))])
        tr_df = P[train_mask & ok & ~np.isin(artist, list(val))]
        tr_df = cap_per_artist(tr_df, cfg["cap"], seed=0)
        va_df = cap_per_artist(P[train_mask & ok & np.isin(artist, list(val))], 60, seed=0)
        pos = {p: i for i, p in enumerate(P["path"])}
        tr = np.array([pos[p] for p in tr_df["path"]])
        va = np.array([pos[p] for p in va_df["path"]])
        h = train_head(X, tr, artist[tr], view_idx, cfg, seed)
        cal_raw = validation_calibration(h, X, va, artist[va], cfg, centre=False)
        cal_c = validation_calibration(h, X, va, artist[va], cfg, centre=True, train_rows=tr)
        _CAL_NORM.clear()
        _CAL_NORM.update(
            {m: validation_calibration(h, X, va, artist[va], cfg, True, m, tr) for m in (*NORMS, "dimstd")}
        )
        print(
            "calibrations",
            {
                m: (round(c.slope, 3), round(c.intercept, 3), round(c.threshold, 3))
                for m, c in _CAL_NORM.items()
            },
            "centred",
            round(cal_c.threshold, 4),
            flush=True,
        )
        return h, cal_raw, cal_c, tr

    def rows_of(mask: np.ndarray) -> np.ndarray:
        df = cap_per_artist(P[mask & ok], 60, seed=0)
        pos = {p: i for i, p in enumerate(P["path"])}
        return np.array([pos[p] for p in df["path"]])

    def emb(h, feats):
        return embed(h, feats, cfg, _STATS["imagenet"], hc)

    # a. folds
    folds = {}
    for k in [int(f) for f in cfg["folds"].split(",")]:
        test = np.array([fold_of[a] == k for a in artist])
        h, cal_raw, cal_c, tr = split_train(~test, 100 + k)
        te = rows_of(test)
        r = score_set(emb(h, X[te, 0]), artist[te], cal_raw, cal_c, dict(_CAL_NORM))
        if k == 0:
            r["imagenet"] = score_set(imagenet(X[te, 0], hc), artist[te])["raw"]
            r["colour"] = score_set(histograms(DATA, list(P["path"][te])), artist[te])["raw"]
            # photographed copies of at most 10 paintings an artist
            pos = {p: i for i, p in enumerate(P["path"])}
            te20 = np.array([pos[p] for p in cap_per_artist(P.iloc[te], 10, seed=0)["path"]])
            curve = {}
            photos = photographed_set(F_, te20)
            for s in STRENGTHS:
                feats = X[te20, 0] if s == 0 else photos[s]
                c = score_set(emb(h, feats), artist[te20], cal_raw, cal_c, dict(_CAL_NORM))
                c["imagenet"] = score_set(imagenet(feats, hc), artist[te20])["raw"]
                curve[str(s)] = c
            r["photographed"] = curve
            # the fallback when a collection is too small: centred on the training paintings' mean
            E = emb(h, X[te, 0])
            Etr = emb(h, X[tr, 0])
            C = centre_on(E, part_mean(Etr))
            iu, ju, same = all_pairs(artist[te])
            r["centred_on_training_mean"] = roc_auc(same, (C @ C.T)[iu, ju])
        folds[k] = r
        print(name, "fold", k, json.dumps({kk: v for kk, v in r.items() if kk != "photographed"}), flush=True)
    result["folds"] = folds

    # b. cross-source
    cross = {}
    for train_src, test_src in (("wikiart-224", "real-paintings-128"), ("real-paintings-128", "wikiart-224")):
        train_mask = source == train_src
        train_artists = set(artist[train_mask])
        test_mask = (source == test_src) & ~np.isin(artist, list(train_artists))
        h, cal_raw, cal_c, _ = split_train(train_mask, 200 + len(cross))
        te = rows_of(test_mask)
        r = score_set(emb(h, X[te, 0]), artist[te], cal_raw, cal_c, dict(_CAL_NORM))
        r["imagenet"] = score_set(imagenet(X[te, 0], hc), artist[te])["raw"]
        r["colour"] = score_set(histograms(DATA, list(P["path"][te])), artist[te])["raw"]
        r["artists"] = len(set(artist[te]))
        r["paintings"] = len(te)
        cross[f"{train_src}->{test_src}"] = r
        print(name, "cross", train_src, json.dumps(r), flush=True)
    result["cross"] = cross

    # c. gallery photographs, with the head trained on every artist
    h, cal_raw, cal_c, _ = split_train(np.ones(len(P), bool), 300)
    nc = len(F_["gal_cat"])
    G = F_["G"]
    E_cat, E_ph = emb(h, G[:nc]), emb(h, G[nc:])
    result["gallery"] = {
        "raw": gallery(E_cat, E_ph, F_, False, cal_raw),
        "centred": gallery(E_cat, E_ph, F_, True, cal_c),
    }
    for m in (*NORMS, "dimstd"):
        result["gallery"][m] = gallery(E_cat, E_ph, F_, True, _CAL_NORM[m], norm=m)
    Zall = imagenet(G, hc)
    result["gallery"]["imagenet"] = gallery(Zall[:nc], Zall[nc:], F_, False)
    gal_rels = ["gallery-photos/" + f for f in F_["gal_cat"]["filename"]] + [
        "gallery-photos/" + f for f in F_["gal_photos"]["photo"]
    ]
    Hh = histograms(DATA, gal_rels)
    result["gallery"]["colour"] = gallery(Hh[:nc], Hh[nc:], F_, False)
    print(name, "gallery", json.dumps(result["gallery"]), flush=True)
    result["seconds"] = time.time() - t0
    mean_fold = float(np.mean([f["raw"] for f in folds.values()]))
    mean_fold_c = float(np.mean([f["centred"] for f in folds.values()]))
    print(name, "MEAN folds raw", round(mean_fold, 4), "centred", round(mean_fold_c, 4), flush=True)
    with open(RUNS / "yardsticks.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")
    return result


def table(path: Path) -> str:
    """The three-yardstick table of every recipe in ``path`` (the last line of each name wins)."""
    rows: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        rows[row["name"]] = row
    head = (
        "| recipe | scoring | a: folds (mean) | b: wikiart -> rp128 | b: rp128 -> wikiart | "
        "c: photographed s=1.0 (fold 0) | c: gallery wall top-1 / top-5 | c: gallery cropped top-1 | "
        "c: gallery photo-catalogue AUC |"
    )
    out = [head, "|" + "---|" * 9]
    for name, r in rows.items():
        cross = r["cross"]
        keys = list(cross)
        for mode in [m for m in ("raw", "centred", *NORMS) if m in cross[keys[0]]]:
            folds = float(np.mean([f[mode] for f in r["folds"].values()]))
            photo = r["folds"].get("0", {}).get("photographed", {}).get("1.0", {}).get(mode)
            g = r["gallery"][mode]
            out.append(
                f"| {name} | {mode} | {folds:.4f} | {cross[keys[0]][mode]:.4f} | {cross[keys[1]][mode]:.4f} | "
                f"{photo if photo is None else format(photo, '.4f')} | {g['wall']['top1']:.3f} / {g['wall']['top5']:.3f} | "
                f"{g['cropped']['top1']:.3f} | {g['auc']:.4f} |"
            )
    last = list(rows.values())[-1]
    cross = last["cross"]
    keys = list(cross)
    f0 = last["folds"].get("0", {})
    for base in ("imagenet", "colour"):
        g = last["gallery"][base]
        photo = f0.get("photographed", {}).get("1.0", {}).get(base) if base == "imagenet" else None
        out.append(
            f"| {base} (no training) | standardised | {f0.get(base, float('nan')):.4f} (fold 0) | "
            f"{cross[keys[0]][base]:.4f} | {cross[keys[1]][base]:.4f} | "
            f"{photo if photo is None else format(photo, '.4f')} | {g['wall']['top1']:.3f} / {g['wall']['top5']:.3f} | "
            f"{g['cropped']['top1']:.3f} | {g['auc']:.4f} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1] == "cache":  # only fill the feature cache for these views
        features({"views": sys.argv[2], "only": True})
    elif sys.argv[1] == "table":
        print(table(Path(sys.argv[2])))
    else:
        n, c = parse(sys.argv[1:])
        run(n, c)
