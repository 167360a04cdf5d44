"""Probe: does the score gate gain from more inputs than history length and friend count?

    .venv/bin/python bench/gate_inputs_probe.py DATASET_DIR CHECKPOINT.pt [THREADS]

Loads a trained hybrid checkpoint (python -m recommender.ml.train --out) and its dataset, keeps
the towers frozen and refits only the gate under each set of inputs: on half the validation users
(scored on the other half), then on all of them (scored on test). Inputs tried: each tower's
log sigma_t(u) (its score spread for the user) and its top standardized score. Prints NDCG@10;
asserts nothing. The fifth session's run and its outcome: docs/benchmarks.md ("On a GPU").
"""
import math
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recommender.ml.serve import Recommender
from recommender.ml.data import load_csv
from recommender.ml import metrics
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
D = sys.argv[1].rstrip('/'); name = os.path.basename(D)
ds = load_csv(D + '/interactions.csv', D + '/social.csv' if os.path.exists(D + '/social.csv') else None, None,
              D + '/items.csv' if os.path.exists(D + '/items.csv') else None)
rec = Recommender.load(sys.argv[2])
m = rec.model.eval()
if rec.dataset_fingerprint != ds.fingerprint:
    sys.exit(f"{sys.argv[2]} was trained on another dataset than {D}")
T = len(m.towers); print(name, m.branches)
seen = metrics.SeenItems(ds.n_users, ds.train_users, ds.train_items)
items = [p.items.detach() for p in m.propagate()]
moments = m._item_moments()

def tower_data(split):
    users = ds.eval_users(split)
    hist = [ds.history(int(u), split) for u in users]
    with torch.no_grad():
        vecs = [torch.cat([t.user_vectors(users[s:s+1024], hist[s:s+1024])['user'] for s in range(0, len(users), 1024)]) for t in m.towers]
    length = torch.tensor([min(len(h), m.max_len) for h in hist]).float()
    friends = m.friend_counts()[users].float()
    sig = [((u @ cov) * u).sum(-1).clamp(min=1e-12).sqrt() for u, (_, cov) in zip(vecs, moments)]
    mu = [u @ mean for u, (mean, _) in zip(vecs, moments)]
    feats = {'len': torch.log1p(length) / math.log1p(m.max_len), 'friends': torch.log1p(friends) / math.log1p(50)}
    for t in range(T):
        feats[f'logsig{t}'] = sig[t].log()
    # peak: (max - mean)/sigma of each tower's scores, seen items not masked (cheap proxy)
    for t in range(T):
        peak = torch.cat([(vecs[t][s:s+2048] @ items[t].T).max(1).values for s in range(0, len(users), 2048)])
        feats[f'peak{t}'] = (peak - mu[t]) / sig[t]
    return users, hist, vecs, sig, feats

def standardize(feats, ref):
    return {k: (v - ref[k].mean()) / (ref[k].std() + 1e-6) if k.startswith(('logsig', 'peak')) else v for k, v in feats.items()}

def targets(split, users):
    return (ds.val_items if split == 'val' else ds.test_items)[users].long()

def logits_for(vecs, sig, w, idx):
    return [vecs[t][idx] @ items[t].T / sig[t][idx, None] for t in range(T)]

def fit(data, keys, idx, epochs=20, split='val'):
    users, hist, vecs, sig, feats = data
    X = torch.stack([feats[k] for k in keys], -1)
    lin = torch.nn.Linear(len(keys), T); torch.nn.init.zeros_(lin.weight); torch.nn.init.zeros_(lin.bias)
    logt = torch.nn.Parameter(torch.zeros(()))
    opt = torch.optim.Adam([*lin.parameters(), logt], lr=0.05)
    tg = targets(split, users)
    g = torch.Generator().manual_seed(0)
    Z = None
    for ep in range(epochs):
        for b in idx[torch.randperm(len(idx), generator=g)].split(512):
            gate = torch.softmax(lin(X[b]), -1)
            with torch.no_grad():
                zs = logits_for(vecs, sig, None, b)
            s = logt.exp() * sum(gate[:, t:t+1] * zs[t] for t in range(T))
            rows, cols = seen.rows_cols(users[b]); keep = cols != tg[b][rows]
            s = s.index_put((rows[keep], cols[keep]), torch.tensor(float('-inf')))
            loss = F.cross_entropy(s, tg[b])
            opt.zero_grad(); loss.backward(); opt.step()
    return lin, logt, X

def ndcg(data, split, keys, lin, logt, idx):
    users, hist, vecs, sig, feats = data
    X = torch.stack([feats[k] for k in keys], -1)
    tg = targets(split, users); out = []
    with torch.no_grad():
        for b in idx.split(1024):
            gate = torch.softmax(lin(X[b]), -1)
            zs = logits_for(vecs, sig, None, b)
            s = sum(gate[:, t:t+1] * zs[t] for t in range(T))
            mask = metrics.seen_mask(seen, ds, users[b], split, ds.n_items)
            ranks = metrics.rank_targets(s, tg[b], mask)
            out.append(metrics.ndcg_at_k(ranks, 10))
    return float(torch.cat(out).mean())

with torch.no_grad():
    val = tower_data("val"); test = tower_data("test")
ref = val[4]
val = (*val[:4], standardize(val[4], ref)); test = (*test[:4], standardize(test[4], ref))
nv = len(val[0]); perm = torch.randperm(nv, generator=torch.Generator().manual_seed(1))
A, B = perm[: nv // 2], perm[nv // 2:]
allv, allt = torch.arange(nv), torch.arange(len(test[0]))
base = ['len', 'friends']
variants = {'G0 len+friends': base, 'G1 +logsig': base + [f'logsig{t}' for t in range(T)],
            'G2 +peak': base + [f'peak{t}' for t in range(T)],
            'G3 +logsig+peak': base + [f'logsig{t}' for t in range(T)] + [f'peak{t}' for t in range(T)]}
for label, keys in variants.items():
    lin, logt, _ = fit(val, keys, A)
    half = ndcg(val, 'val', keys, lin, logt, B)
    lin2, logt2, _ = fit(val, keys, allv)
    t = ndcg(test, 'test', keys, lin2, logt2, allt)
    print(f'{label:22s} valB(fitA) {half:.4f}  test(fit all val) {t:.4f}', flush=True)
