"""Partial fine-tuning of stage 7 + the head conv on cached stage-6 maps (224 px, global view), 4 folds.

python partial6.py NAME key=value ... -> appends to runs/experiments.jsonl
Stage 7 and the head conv (BatchNorm frozen) train at lr `blr` (0 = frozen); stages 2-6's statistics
come from the product's feature cache; the head is the preset's (BN -> dropout -> linear).
"""
import json, sys, time, math, os, copy
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from painter_match.data.catalogue import read_catalogue, artist_key
from painter_match.data.selection import cap_per_artist
from painter_match.metrics import roc_auc
from painter_match.train.backbones import build_encoder
from painter_match.train.feature_cache import build_feature_cache
from painter_match.train.efficientnet_lite import channel_statistics
from painter_match.train.losses import ProxyLoss, TripletLoss

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
DEF = dict(epochs=6, lr=3e-4, blr=1e-4, wd=1e-2, loss="proxy", dim=256, dropout=0.5, cap=120, batch=256,
           seed=0, folds="0,1,2,3", pool="mean", gem_p=3.0, K=4)
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
lay = {}; s = 0
for t in enc.backbone.taps:
    c = net.tap_channels[t]; lay[t] = (s, s + 2 * c); s += 2 * c
frozen = np.concatenate([fc.features[:, 0, lay[t][0]:lay[t][1]] for t in ("stage2", "stage3", "stage4", "stage5", "stage6")], 1)
units = net.units()
S6P = Path("runs/partial/stage6-224.npy")
if not S6P.exists():
    maps = np.load("runs/partial/stage5-224.npy", mmap_mode="r")
    st6 = copy.deepcopy(nn.ModuleList(units[6])).eval()
    out6 = np.lib.format.open_memmap(str(S6P) + ".tmp.npy", mode="w+", dtype=np.float16, shape=(len(P), 192, 7, 7))
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(P), 256):
            x = torch.from_numpy(np.asarray(maps[i:i + 256], dtype=np.float32))
            for b in st6: x = b(x)
            out6[i:i + 256] = x.numpy().astype(np.float16)
    out6.flush(); del out6; os.replace(str(S6P) + ".tmp.npy", S6P)
    print("stage-6 maps in", round(time.time() - t0), "s", flush=True)
S6 = np.asarray(np.load(S6P, mmap_mode="r"))

def pooled(x, gem):
    st = channel_statistics(x)
    if gem:  # GeM (p) in place of the channel mean; the std stays
        c = x.shape[1]
        st = torch.cat([x.clamp(min=1e-6).pow(cfg["gem_p"]).mean(dim=(2, 3)).pow(1 / cfg["gem_p"]), st[:, c:]], 1)
    return st
def fresh_tail():
    return nn.ModuleDict({"stage7": copy.deepcopy(nn.ModuleList(units[7])), "head": copy.deepcopy(nn.ModuleList(units[8]))})
def tail_stats(tail, x):
    for b in tail["stage7"]: x = b(x)
    s7 = pooled(x, cfg["pool"] == "gem_all")
    h = F.relu6(tail["head"][1](tail["head"][0](x)))
    return torch.cat([s7, pooled(h, cfg["pool"] in ("gem", "gem_all"))], 1)
with torch.no_grad():
    t = fresh_tail().eval()
    got = tail_stats(t, torch.from_numpy(S6[:8].astype(np.float32))).numpy()
    want = np.concatenate([fc.features[:8, 0, lay[tt][0]:lay[tt][1]] for tt in ("stage7", "head")], 1)
    print("check max abs diff", float(np.abs(got - want).max()), "max", float(np.abs(want).max()), flush=True)

results = {}; t_all = time.time(); pos = {p: i for i, p in enumerate(P["path"])}
for k in [int(f) for f in cfg["folds"].split(",")]:
    t0 = time.time()
    test_art = {a for a in artists if fold_of[a] == k}
    tr = cap_per_artist(P[~P["artist"].isin(test_art)], cfg["cap"], seed=cfg["seed"])
    te = cap_per_artist(P[P["artist"].isin(test_art)], 60, seed=0)
    tr_rows = np.array([pos[p] for p in tr["path"] if ok[pos[p]]]); te_rows = np.array([pos[p] for p in te["path"] if ok[pos[p]]])
    uniq, y = np.unique(P["artist"].to_numpy()[tr_rows], return_inverse=True)
    te_art = P["artist"].to_numpy()[te_rows]; iu, ju = np.triu_indices(len(te_rows), 1); same = te_art[iu] == te_art[ju]
    torch.manual_seed(cfg["seed"] + k)
    tail = fresh_tail().eval()
    train_tail = cfg["blr"] > 0
    for p in tail.parameters(): p.requires_grad_(train_tail)
    D = frozen.shape[1] + 2 * (320 + 1280)
    head = nn.Sequential(nn.BatchNorm1d(D), nn.Dropout(cfg["dropout"]), nn.Linear(D, cfg["dim"]))
    proxy = ProxyLoss(cfg["dim"], len(uniq)); trip = TripletLoss() if cfg["loss"] == "triplet" else None
    groups = [{"params": list(head.parameters()) + list(proxy.parameters()), "lr": cfg["lr"]}]
    if train_tail: groups.append({"params": list(tail.parameters()), "lr": cfg["blr"]})
    opt = torch.optim.AdamW(groups, weight_decay=cfg["wd"])
    n = len(tr_rows); steps = math.ceil(n / cfg["batch"]) * cfg["epochs"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=steps, pct_start=0.1)
    g = np.random.default_rng(cfg["seed"] + k); yt = torch.from_numpy(y)
    by_artist = [np.flatnonzero(y == c) for c in range(len(uniq))]
    pre = None
    if not train_tail:
        with torch.no_grad():
            pre = torch.cat([tail_stats(tail, torch.from_numpy(S6[i:i + 512].astype(np.float32))) for i in range(0, len(P), 512)])
    def feats(rows, train):
        base = torch.from_numpy(frozen[rows])
        if pre is not None: return torch.cat([base, pre[torch.from_numpy(rows)]], 1)
        x = torch.from_numpy(S6[rows].astype(np.float32))
        if train and g.random() < 0.5: x = x.flip(3)  # mirror the maps ~ mirror the picture
        return torch.cat([base, tail_stats(tail, x)], 1)
    for ep in range(cfg["epochs"]):
        head.train(); tail.eval()  # BatchNorm frozen
        if cfg["loss"] == "triplet":
            Kk = cfg["K"]; Pn = cfg["batch"] // Kk
            batches = [np.concatenate([g.choice(by_artist[a], Kk, replace=len(by_artist[a]) < Kk) for a in g.choice(len(uniq), Pn, replace=False)]) for _ in range(math.ceil(n / cfg["batch"]))]
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
row = {"name": name, "cfg": cfg, "folds": results, "mean": mean, "seconds": time.time() - t_all, "script": "partial6.py"}
print(name, "MEAN", round(mean, 4), flush=True)
with open("runs/experiments.jsonl", "a") as f: f.write(json.dumps(row) + "\n")
