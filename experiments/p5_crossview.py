"""Can the P4 decoder learn to paraphrase from V by supervision? A cross-view probe (not part of the pipeline).

A paraphrase mode of the P4 decoder (its z shifted by a learned vector) is trained, encoder frozen, on the
domain's own paraphrases: teacher-forced CE of view B given V(view A), and of A given V(B). Then k samples
(top-p 0.9) per held-out sentence are scored like P5: the candidate with the best round-trip cosine minus
λ·ROUGE-L(x, ẋ) is kept. Three ways to read V: with the decoder's token anchors, without them, and with V
zeroed (z only). Results: nbs/results/p5_crossview_cpu.json, discussed in 05_roundtrip.

    python experiments/p5_crossview.py runs/cpu-7127a925f9 --steps 400 --read anchors
"""
import argparse, contextlib, copy, json, os, tempfile, time
from pathlib import Path
import torch, torch.nn.functional as F
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.contrast import scene_batches, contrast_cfg
from vislat.decoder import latent_and_z, teacher_forcing_ce, decode, safe_graph_f1
from vislat.roundtrip import top_p_pick, round_trip_cos, choose, copy_penalty
from vislat.latent import evalpack
from vislat.checker import rouge_l
from vislat.domain import normalize_text

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("run"); ap.add_argument("--steps", type=int, default=400)
ap.add_argument("--read", choices=["anchors", "free", "z_only"], default="anchors")
ap.add_argument("--n_eval", type=int, default=300); ap.add_argument("--out", default="nbs/results/p5_crossview_cpu.json")
a = ap.parse_args()
cfg = run_config(a.run); p4 = ensure("P4", cfg, Path(a.run).parent, verbose=False)
enc, dec, tok = p4["encoder"].eval().requires_grad_(False), copy.deepcopy(p4["decoder"]).train(), p4["tokenizer"]
shift, anchor = torch.nn.Parameter(torch.zeros(cfg.model.z_dim)), dec.anchor
keep_V = 0.0 if a.read == "z_only" else 1.0

@contextlib.contextmanager
def para_mode():
    "The decoder in paraphrase mode: anchors off unless `--read anchors`."
    if a.read != "anchors": dec.anchor = None
    try: yield
    finally: dec.anchor = anchor

opt = torch.optim.AdamW(list(dec.parameters()) + [shift], lr=1e-3, weight_decay=0.0)
batches, t0 = scene_batches(contrast_cfg(cfg), tok, "P5"), time.time()
for s in range(a.steps):
    b = batches(s, 0, 64); B = b["n"]; ids, mask = b["ids"][:2 * B], b["mask"][:2 * B]
    V, z = latent_and_z(enc, ids, mask)
    other = torch.cat([torch.arange(B, 2 * B), torch.arange(B)])          # A ↔ B: each view is the other's target
    with para_mode():
        # L_view = −mean log p(x_view' | V(x_view), z(x_view) + s)
        loss = teacher_forcing_ce(dec, ids[other], mask[other], V * keep_V, z + shift)
    # linear warm-up over 30 steps, then linear decay to 10 %
    for g in opt.param_groups: g["lr"] = 1e-3 * min(1, (s + 1) / 30) * (0.1 + 0.9 * (1 - s / a.steps))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0); opt.step()
    if s % 50 == 0 or s == a.steps - 1: print(f"step {s}  L_view {loss.item():.3f}  {time.time() - t0:.0f} s", flush=True)

dec.eval(); held = evalpack().texts_a()[:a.n_eval]; src = [normalize_text(t) for t in held]; k = 8
with torch.no_grad(), para_mode():
    ids, mask = tok.encode(held); V, z = latent_and_z(enc, ids, mask)
    cands = tok.decode(decode(dec, V * keep_V, z + shift, top_p_pick(0.9, torch.Generator().manual_seed(0)), tok.max_len, repeat=k))
    cos = round_trip_cos(enc, tok, F.normalize(z, dim=1), cands)
rows = []
for kk in (4, 8):
    for lam in (0.0, 0.5, 1.0, 2.0):
        texts = [cands[i * k + j] for i in range(len(held)) for j in range(kk)]
        j = choose(cos[:, :kk], copy_penalty(held, texts, lam)).tolist()
        pick = [texts[i * kk + j[i]] for i in range(len(held))]
        rows.append({"k": kk, "copy_select": lam, "graph_f1": sum(map(safe_graph_f1, pick, src)) / len(src),
                     "rouge_l": sum(map(rouge_l, pick, src)) / len(src), "rt_cos": cos[:, :kk].gather(1, torch.tensor(j)[:, None]).mean().item()})
        print(rows[-1], flush=True)
out = Path(a.out); res = json.loads(out.read_text()) if out.exists() else {}
res[a.read] = {"run": str(a.run), "steps": a.steps, "final_L_view": loss.item(), "n_eval": len(held), "seconds": round(time.time() - t0),
               "rows": rows, "samples": [[x, cands[i * k]] for i, x in enumerate(src[:5])]}
out.parent.mkdir(parents=True, exist_ok=True)
with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False, suffix=".tmp") as f: json.dump(res, f, indent=1)
os.replace(f.name, out)
