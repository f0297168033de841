"""Partial fine-tuning on cached stage-5 maps (224 px, global view), on the 4 artist folds.

python partial.py NAME key=value ... -> appends to runs/experiments.jsonl
Stage 6, stage 7 and the head conv train (BatchNorm frozen, lr `blr`); stages 2-5's statistics
come from the product's feature cache; the head is the preset's (BN -> dropout -> linear).
"""
import json, sys, time, math, os, io, warnings
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from painter_match.data.catalogue import read_catalogue, artist_key
from painter_match.data.selection import cap_per_artist
from painter_match.data.images import load_pixels
from painter_match.metrics import roc_auc
from painter_match.train.backbones import build_encoder
from painter_match.train.feature_cache import build_feature_cache
from painter_match.train.efficientnet_lite import TAPS, channel_statistics
from painter_match.train.losses import ProxyLoss, TripletLoss

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
DEF = dict(epochs=4, lr=3e-4, blr=1e-4, wd=1e-2, loss="proxy", dim=256, dropout=0.5, cap=120, batch=256,
           seed=0, folds="0,1,2,3", trainable="stage6,stage7,head", pk=0, K=4, pool="mean", gem_p=3.0, start=5)
name = sys.argv[1]; cfg = dict(DEF)
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1); cfg[k] = type(DEF[k])(v) if not isinstance(DEF[k], str) else v
cat = read_catalogue(["../shared/data/real-paintings-128", "../shared/data/wikiart-224"], subset="train")
P = cat.paintings
artists = sorted(P["artist"].unique(), key=artist_key)
rng = np.random.default_rng(12345); order = rng.permutation(len(artists))
fold_of = {artists[i]: k % 4 for k, i in enumerate(order)}
enc = build_encoder("efficientnet_lite0", embedding_dim=256, input_size=224, pretrained=True, features="style")
net = enc.backbone.net
fc = build_feature_cache(enc, cat.root, list(P["path"]), view_names=("global",), cache_dir=Path("runs/feature-cache"))
ok = fc.readable
cols = {}; s = 0
for t in TAPS:
    c = net.tap_channels[t]; cols[t] = (s, s + c); s += 2 * c
# the feature cache's features are in the encoder's tap layout: stage2..head; keep stage2..5
lay = {}; s = 0
for t in enc.backbone.taps:
    c = net.tap_channels[t]; lay[t] = (s, s + 2 * c); s += 2 * c
frozen_stats = np.concatenate([fc.features[:, 0, lay[t][0]:lay[t][1]] for t in ("stage2", "stage3", "stage4", "stage5")], 1)
units = net.units()
upto5 = units[:6]  # stem, stage1..5
MAPS = Path("runs/partial/stage5-224.npy")

class Upto5(nn.Module):
    def __init__(s):
        super().__init__(); s.m = nn.ModuleList([m for u in upto5 for m in u])
    def forward(s, x):
        x = F.relu6(s.m[1](s.m[0](x)))
        for b in s.m[2:]: x = b(x)
        return x

if not MAPS.exists():
    import onnxruntime as ort
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Upto5().eval(), (torch.zeros(2, 3, 224, 224),), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "b"}, "y": {0: "b"}}, dynamo=False)
    o = ort.SessionOptions(); o.intra_op_num_threads = 2
    sess = ort.InferenceSession(buf.getvalue(), o, providers=["CPUExecutionProvider"])
    maps = np.lib.format.open_memmap(str(MAPS) + ".tmp.npy", mode="w+", dtype=np.float16, shape=(len(P), 112, 14, 14))
    mean, std = enc.mean, enc.std
    t0 = time.time()
    for st in range(0, len(P), 32):
        rows = [i for i in range(st, min(st + 32, len(P))) if ok[i]]
        if not rows: continue
        px = np.stack([load_pixels(cat.root / P["path"][i], 224) for i in rows])
        x = (torch.from_numpy(px).permute(0, 3, 1, 2).float() / 255 - mean) / std
        maps[rows] = sess.run(None, {"x": x.numpy()})[0].astype(np.float16)
        if st % 2048 == 0: print("maps", st, f"{time.time()-t0:.0f}s", flush=True)
    maps.flush(); del maps
    os.replace(str(MAPS) + ".tmp.npy", MAPS)
maps = np.load(MAPS, mmap_mode="r")
maps = np.asarray(maps)  # 736 MB in RAM
print("maps loaded", maps.shape, flush=True)

# check: recompute stage6/7/head statistics from the maps vs the cache (first 8 paintings)
def pooled(x, gem):
    st = channel_statistics(x)
    if gem:  # GeM (p) in place of the channel mean; the std stays
        c = x.shape[1]
        st = torch.cat([x.clamp(min=1e-6).pow(cfg["gem_p"]).mean(dim=(2, 3)).pow(1 / cfg["gem_p"]), st[:, c:]], 1)
    return st
S6 = None  # stage-6 maps when start=6 (stage 6 frozen and run once)
def tail_stats(tail, x, s6=None):
    outs = []
    g_all = cfg["pool"] == "gem_all"; g_head = cfg["pool"] in ("gem", "gem_all")
    if s6 is None:
        for i, b in enumerate(tail["stage6"]): x = b(x)
        outs.append(pooled(x, g_all))
    else:
        x = s6; outs.append(s6_stats_of(x))
    for b in tail["stage7"]: x = b(x)
    outs.append(pooled(x, g_all))
    h = F.relu6(tail["head"][1](tail["head"][0](x)))
    outs.append(pooled(h, g_head))
    return torch.cat(outs, 1)

import copy
def fresh_tail():
    return {"stage6": copy.deepcopy(nn.ModuleList(units[6])), "stage7": copy.deepcopy(nn.ModuleList(units[7])),
            "head": copy.deepcopy(nn.ModuleList(units[8]))}
with torch.no_grad():
    t = fresh_tail(); [m.eval() for v in t.values() for m in v]
    got = tail_stats(t, torch.from_numpy(maps[:8].astype(np.float32)))
    want = np.concatenate([fc.features[:8, 0, lay[tt][0]:lay[tt][1]] for tt in ("stage6", "stage7", "head")], 1)
    print("check max abs diff", float(np.abs(got.numpy() - want).max()), "max", float(np.abs(want).max()), flush=True)

if cfg["start"] == 6:
    S6P = Path("runs/partial/stage6-224.npy")
    t6 = fresh_tail(); [m.eval() for v in t6.values() for m in v]
    if not S6P.exists():
        out6 = np.lib.format.open_memmap(str(S6P) + ".tmp.npy", mode="w+", dtype=np.float16, shape=(len(P), 192, 7, 7))
        with torch.no_grad():
            for i in range(0, len(P), 256):
                x = torch.from_numpy(maps[i:i + 256].astype(np.float32))
                for b in t6["stage6"]: x = b(x)
                out6[i:i + 256] = x.numpy().astype(np.float16)
        out6.flush(); del out6; os.replace(str(S6P) + ".tmp.npy", S6P)
    S6 = np.asarray(np.load(S6P, mmap_mode="r"))
    del maps
    # stage-6 statistics come from the exact cache (the fp16 maps only feed stage 7)
    s6cols = lay["stage6"]
    def s6_stats_of(x): return None
    print("stage-6 maps", S6.shape, flush=True)
results = {}; t_all = time.time()
pos = {p: i for i, p in enumerate(P["path"])}
for k in [int(f) for f in cfg["folds"].split(",")]:
    t0 = time.time()
    test_art = {a for a in artists if fold_of[a] == k}
    tr = cap_per_artist(P[~P["artist"].isin(test_art)], cfg["cap"], seed=cfg["seed"])
    te = cap_per_artist(P[P["artist"].isin(test_art)], 60, seed=0)
    tr_rows = np.array([pos[p] for p in tr["path"] if ok[pos[p]]]); te_rows = np.array([pos[p] for p in te["path"] if ok[pos[p]]])
    uniq, y = np.unique(P["artist"].to_numpy()[tr_rows], return_inverse=True)
    te_art = P["artist"].to_numpy()[te_rows]; iu, ju = np.triu_indices(len(te_rows), 1); same = te_art[iu] == te_art[ju]
    torch.manual_seed(cfg["seed"] + k)
    tail = fresh_tail()
    trainable = cfg["trainable"].split(",") if cfg["trainable"] else []
    D = frozen_stats.shape[1] + 2 * (192 + 320 + 1280)
    head = nn.Sequential(nn.BatchNorm1d(D), nn.Dropout(cfg["dropout"]), nn.Linear(D, cfg["dim"]))
    proxy = ProxyLoss(cfg["dim"], len(uniq))
    trip = TripletLoss() if cfg["loss"] == "triplet" else None
    bparams = [p for t in trainable for m in tail[t] for p in m.parameters()]
    for t in tail:
        for m in tail[t]:
            for p in m.parameters(): p.requires_grad_(t in trainable)
    groups = [{"params": list(head.parameters()) + list(proxy.parameters()), "lr": cfg["lr"]}]
    if bparams: groups.append({"params": bparams, "lr": cfg["blr"]})
    opt = torch.optim.AdamW(groups, weight_decay=cfg["wd"])
    n = len(tr_rows); steps = math.ceil(n / cfg["batch"]) * cfg["epochs"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=steps, pct_start=0.1)
    g = np.random.default_rng(cfg["seed"] + k); yt = torch.from_numpy(y)
    by_artist = [np.flatnonzero(y == c) for c in range(len(uniq))]
    pre = None
    if not trainable:  # frozen: the tail's statistics once, not every epoch
        with torch.no_grad():
            [m.eval() for t in tail.values() for m in t]
            allr = np.unique(np.r_[tr_rows, te_rows]); pre = {}
            for i in range(0, len(allr), 256):
                r = allr[i:i + 256]; st = tail_stats(tail, torch.from_numpy(maps[r].astype(np.float32)))
                for j, rr in enumerate(r): pre[int(rr)] = st[j]
    def feats(rows, train):
        if pre is not None:
            return torch.cat([torch.from_numpy(frozen_stats[rows]), torch.stack([pre[int(r)] for r in rows])], 1)
        x = torch.from_numpy(maps[rows].astype(np.float32))
        if train and g.random() < 0.5: x = x.flip(3)  # mirror: flipping the map ~ flipping the picture
        st = tail_stats(tail, x)
        return torch.cat([torch.from_numpy(frozen_stats[rows]), st], 1)
    for ep in range(cfg["epochs"]):
        head.train()
        for t in tail.values():
            for m in t: m.eval()  # BatchNorm frozen
        if cfg["pk"]:
            K = cfg["K"]; Pn = cfg["batch"] // K
            batches = [np.concatenate([g.choice(by_artist[a], K, replace=len(by_artist[a]) < K) for a in g.choice(len(uniq), Pn, replace=False)]) for _ in range(math.ceil(n / cfg["batch"]))]
        else:
            perm = g.permutation(n); batches = [perm[i:i + cfg["batch"]] for i in range(0, n, cfg["batch"])]
        te0 = time.time()
        for idx in batches:
            if len(idx) < 2: continue
            e = F.normalize(head(feats(tr_rows[idx], True)), dim=1); yb = yt[idx]
            loss = F.cross_entropy(proxy.logits(e, yb), yb.long()) if trip is None else trip(e, yb)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        print(name, "fold", k, "epoch", ep, f"{time.time()-te0:.0f}s loss {float(loss):.3f}", flush=True)
    head.eval()
    with torch.no_grad():
        E = torch.cat([F.normalize(head(feats(te_rows[i:i + 256], False)), dim=1) for i in range(0, len(te_rows), 256)]).numpy()
    out = {"auc": roc_auc(same, (E @ E.T)[iu, ju]), "seconds": time.time() - t0, "train_images": int(n)}
    results[k] = out; print(name, k, json.dumps(out), flush=True)
mean = float(np.mean([r["auc"] for r in results.values()]))
row = {"name": name, "cfg": cfg, "folds": results, "mean": mean, "seconds": time.time() - t_all, "script": "partial.py"}
print(name, "MEAN", round(mean, 4), flush=True)
with open("runs/experiments.jsonl", "a") as f: f.write(json.dumps(row) + "\n")
