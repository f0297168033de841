"""Fold experiments on cached frozen Lite0 statistics (the product's feature cache).

python folds.py NAME key=value ...   -> appends a JSON line to runs/experiments.jsonl
"""
import json, sys, time, math
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from painter_match.data.catalogue import read_catalogue, artist_key
from painter_match.data.selection import cap_per_artist
from painter_match.data.views import Views
from painter_match.metrics import roc_auc
from painter_match.train.backbones import build_encoder
from painter_match.train.feature_cache import build_feature_cache, cached_view_names, feature_columns
from painter_match.train.efficientnet_lite import TAPS
from painter_match.train.losses import ProxyLoss, TripletLoss

torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
DEF = dict(size=224, crops=0, train_views="global,flip", eval_crops=0, head="mlp", hidden=512, dim=256,
           dropout=0.5, epochs=12, lr=3e-4, wd=1e-2, loss="proxy", margin=0.2, scale=30.0, smooth=0.0,
           cap=120, batch=256, seed=0, taps="stage2,stage3,stage4,stage5,stage6,stage7,head", folds="0,1,2,3",
           baseline=0, means_only=0, snorm=0, pk=0, backbone="efficientnet_lite0", stored="global,flip", tmargin=0.2, mining="semihard", K=4)
name = sys.argv[1]
cfg = dict(DEF)
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    cfg[k] = type(DEF[k])(v) if not isinstance(DEF[k], str) else v

cat = read_catalogue(["../shared/data/real-paintings-128", "../shared/data/wikiart-224"], subset="train")
P = cat.paintings
artists = sorted(P["artist"].unique(), key=artist_key)
rng = np.random.default_rng(12345)
order = rng.permutation(len(artists))
fold_of = {artists[i]: k % 4 for k, i in enumerate(order)}

enc = build_encoder(cfg["backbone"], embedding_dim=256, input_size=cfg["size"], pretrained=True, features="style",
                    taps=tuple(cfg["taps"].split(",")))
views = Views(crops=cfg["crops"], crop_scale=2.0)
names = cfg["stored"].split(",") + [f"crop{i}" for i in range(1, cfg["crops"] + 1)]
fc = build_feature_cache(enc, cat.root, list(P["path"]), view_names=names, views=views,
                         cache_dir=Path("runs/feature-cache"))
X = fc.features  # [n, V, D]
if cfg["means_only"]:
    lite = enc.backbone; cols = []; start = 0
    for t in lite.taps:
        c = lite.net.tap_channels[t]; cols += list(range(start, start + c)); start += 2 * c
    X = np.sqrt(np.maximum(X[:, :, cols], 0))
ok = fc.readable
train_view_idx = [names.index(v) for v in cfg["train_views"].split(",") if v != "crops"] + (
    [names.index(f"crop{i}") for i in range(1, cfg["crops"] + 1)] if "crops" in cfg["train_views"] else [])
train_view_idx = sorted(set(i for i in train_view_idx))
eval_idx = [0] + [names.index(f"crop{i}") for i in range(1, cfg["eval_crops"] + 1)]

# ImageNet baseline: head-tap channel means at this size, standardised over the evaluated images.
all_cols = {}; s = 0
for t in TAPS:
    c = enc.backbone.net.tap_channels[t]; all_cols[t] = (s, s + c); s += 2 * c

def head_model(D, n_classes):
    if cfg["head"] == "linear":
        h = nn.Sequential(nn.BatchNorm1d(D), nn.Dropout(cfg["dropout"]), nn.Linear(D, cfg["dim"]))
    elif cfg["head"] == "mlp":
        h = nn.Sequential(nn.BatchNorm1d(D), nn.Linear(D, cfg["hidden"]), nn.ReLU(), nn.Dropout(cfg["dropout"]), nn.Linear(cfg["hidden"], cfg["dim"]))
    elif cfg["head"] == "mlp2":
        h = nn.Sequential(nn.BatchNorm1d(D), nn.Linear(D, cfg["hidden"]), nn.ReLU(), nn.Dropout(cfg["dropout"]),
                          nn.Linear(cfg["hidden"], cfg["hidden"]), nn.ReLU(), nn.Dropout(cfg["dropout"]), nn.Linear(cfg["hidden"], cfg["dim"]))
    return h

def embed(h, rows):
    h.eval()
    with torch.no_grad():
        outs = [F.normalize(h(torch.from_numpy(X[rows, v])), dim=1) for v in eval_idx]
        e = torch.stack(outs).mean(0)
        return F.normalize(e, dim=1).numpy()

results = {}
t_all = time.time()
for k in [int(f) for f in cfg["folds"].split(",")]:
    t0 = time.time()
    test_art = {a for a in artists if fold_of[a] == k}
    tr = P[~P["artist"].isin(test_art)]
    tr = cap_per_artist(tr, cfg["cap"], seed=cfg["seed"]) if cfg["cap"] > 0 else tr
    te = cap_per_artist(P[P["artist"].isin(test_art)], 60, seed=0)
    tr_rows = np.array([i for i in tr.index if ok[i]]); te_rows = np.array([i for i in te.index if ok[i]])
    # map index in tr (cap_per_artist resets index!) -> use paths
    pos = {p: i for i, p in enumerate(P["path"])}
    tr_rows = np.array([pos[p] for p in tr["path"] if ok[pos[p]]]); te_rows = np.array([pos[p] for p in te["path"] if ok[pos[p]]])
    labels_tr = P["artist"].to_numpy()[tr_rows]
    uniq, y = np.unique(labels_tr, return_inverse=True)
    te_art = P["artist"].to_numpy()[te_rows]
    iu, ju = np.triu_indices(len(te_rows), 1)
    same = te_art[iu] == te_art[ju]
    out = {}
    if cfg["baseline"]:
        a, b = all_cols["head"]
        Z = X[te_rows, 0][:, a:b] if not cfg["means_only"] else None
        Z = (Z - Z.mean(0)) / (Z.std(0) + 1e-6); Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        out["imagenet"] = roc_auc(same, (Z @ Z.T)[iu, ju])
    torch.manual_seed(cfg["seed"] + k)
    D = X.shape[2]
    h = head_model(D, len(uniq))
    losses = []
    if cfg["loss"] in ("proxy", "both"):
        proxy = ProxyLoss(cfg["dim"], len(uniq), scale=cfg["scale"], margin=cfg["margin"]); losses.append(proxy)
    trip = TripletLoss(cfg["tmargin"], cfg["mining"]) if cfg["loss"] in ("triplet", "both") else None
    params = list(h.parameters()) + [p for l in losses for p in l.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["wd"])
    n = len(tr_rows); steps = math.ceil(n / cfg["batch"]) * cfg["epochs"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=steps, pct_start=0.1)
    g = np.random.default_rng(cfg["seed"] + k)
    yt = torch.from_numpy(y)
    by_artist = [np.flatnonzero(y == c) for c in range(len(uniq))]
    for ep in range(cfg["epochs"]):
        h.train()
        if cfg["pk"]:
            # P x K batches: artists at random, K paintings each
            perm_batches = []
            K = cfg["K"]; Pn = cfg["batch"] // K
            for _ in range(math.ceil(n / cfg["batch"])):
                arts = g.choice(len(uniq), Pn, replace=False)
                perm_batches.append(np.concatenate([g.choice(by_artist[a], K, replace=len(by_artist[a]) < K) for a in arts]))
        else:
            perm = g.permutation(n); perm_batches = [perm[i:i + cfg["batch"]] for i in range(0, n, cfg["batch"])]
        for idx in perm_batches:
            if len(idx) < 2: continue
            v = g.choice(train_view_idx, len(idx))
            xb = torch.from_numpy(X[tr_rows[idx], v]); yb = yt[idx]
            e = F.normalize(h(xb), dim=1)
            loss = 0
            if cfg["loss"] in ("proxy", "both"):
                logits = proxy.logits(e, yb)
                loss = loss + F.cross_entropy(logits, yb.long(), label_smoothing=cfg["smooth"])
            if trip is not None:
                loss = loss + trip(e, yb)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    E = embed(h, te_rows)
    S = E @ E.T
    sc = S[iu, ju]
    if cfg["snorm"]:
        # adaptive s-norm against a cohort of training paintings
        C = embed(h, tr_rows[g.permutation(len(tr_rows))[:2000]])
        M = E @ C.T; top = np.sort(M, axis=1)[:, -cfg["snorm"]:]
        mu, sd = top.mean(1), top.std(1) + 1e-6
        sc = 0.5 * ((S[iu, ju] - mu[iu]) / sd[iu] + (S[iu, ju] - mu[ju]) / sd[ju])
    out["auc"] = roc_auc(same, sc)
    out["seconds"] = time.time() - t0
    out["train_images"] = int(n); out["test_images"] = int(len(te_rows)); out["test_artists"] = len(test_art); out["pairs"] = int(len(sc))
    results[k] = out
    print(name, k, json.dumps(out), flush=True)
mean = float(np.mean([r["auc"] for r in results.values()]))
row = {"name": name, "cfg": cfg, "folds": results, "mean": mean, "seconds": time.time() - t_all}
if cfg["baseline"]:
    row["imagenet_mean"] = float(np.mean([r["imagenet"] for r in results.values()]))
print(name, "MEAN", round(mean, 4), row.get("imagenet_mean"), flush=True)
with open("runs/experiments.jsonl", "a") as f:
    f.write(json.dumps(row) + "\n")
