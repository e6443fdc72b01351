"""Is P5's choice among its k candidates what loses the meaning? A probe (not part of the pipeline).

P5 picks, of k sampled candidates ẋ_j, the one whose z = g(V(ẋ_j)) is closest to the input's (`round_trip.choose`).
02_contrast measured that z hardly tells a scene from its argument swap (swap accuracy about 0.2), so the choice may
be blind to the relation's direction. For the P5 model of a run, on held-out sentences and for each k, this probe
compares the candidate chosen by z with: the oracle (the candidate of highest Graph F1, an upper bound on any choice);
the oracle among the candidates that also pass the ROUGE-L bound (≤ 0.55); and the candidate from which the P5
decoder reads the input back most likely, log p(x | V(ẋ_j), z(ẋ_j)) teacher-forced (a direction-aware choice).
Results: nbs/results/p5_select_cpu.json.

    python experiments/p5_select.py runs/cpu-267451d680
"""
import argparse, json
from pathlib import Path
import torch, torch.nn.functional as F
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.config import atomic_write_text
from vislat.decoder import latent_and_z, safe_graph_f1
from vislat.roundtrip import paraphrase, encodable
from vislat.latent import evalpack
from vislat.checker import rouge_l
from vislat.domain import normalize_text

@torch.no_grad()
def read_back_logp(enc, dec, tok, src: list[str], cands: list[str]) -> torch.Tensor:
    "log p(src_i | V(cand_i), z(cand_i)) under the decoder, teacher-forced; -inf where a candidate does not tokenise (empty, too long)."
    out = torch.full((len(src),), -float("inf"))
    good = [i for i, ok in enumerate(encodable(tok, cands)) if ok]
    for s in range(0, len(good), 256):
        idx = good[s:s + 256]
        (ci, cm), (xi, xm) = tok.encode([cands[i] for i in idx]), tok.encode([src[i] for i in idx])
        V, z = latent_and_z(enc, ci, cm)
        logp = F.log_softmax(dec(xi[:, :-1], V, z).float(), -1).gather(-1, xi[:, 1:, None])[..., 0]
        out[idx] = torch.where(xm[:, 1:], logp, 0.0).sum(1)              # PAD is outside the vocab mask: log p = -inf there
    return out

def summarise(rows) -> dict:
    n = len(rows); mean = lambda xs: round(sum(xs) / max(n, 1), 4)
    return {"graph_f1": mean([r[0] for r in rows]), "rouge_l": mean([r[1] for r in rows]),
            "graph_exact": mean([r[0] == 1.0 for r in rows]), "rouge_ok": mean([r[1] <= 0.55 for r in rows])}

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run"); ap.add_argument("--n", type=int, default=500); ap.add_argument("--ks", default="4,8")
    ap.add_argument("--out", default="nbs/results/p5_select_cpu.json")
    a = ap.parse_args()
    cfg = run_config(a.run); runs = Path(a.run).parent
    p5 = ensure("P5", cfg, runs, verbose=False); enc, dec, tok = p5["encoder"].eval(), p5["decoder"].eval(), p5["tokenizer"]
    texts = [normalize_text(t) for t in evalpack().texts_a()[:a.n]]
    res = {"run": Path(a.run).name, "n": a.n, "top_p": cfg.round_trip.top_p, "copy_select": cfg.round_trip.copy_select}
    for k in map(int, a.ks.split(",")):
        pp = paraphrase(enc, dec, tok, texts, k, cfg.round_trip.top_p, cfg.round_trip.copy_select, cfg.seed)
        cands = [c for p in pp for c in p["candidates"]]; srcs = [x for x in texts for _ in range(k)]
        f1 = torch.tensor([safe_graph_f1(c, x) for c, x in zip(cands, srcs)]).view(-1, k)
        rl = torch.tensor([rouge_l(c, x) for c, x in zip(cands, srcs)]).view(-1, k)
        lp = read_back_logp(enc, dec, tok, srcs, cands).view(-1, k)
        pick = lambda j: [(float(f1[b, j[b]]), float(rl[b, j[b]])) for b in range(len(texts))]
        ok = torch.where(rl <= 0.55, f1, torch.full_like(f1, -1.0))
        res[f"k={k}"] = {
            "chosen by z (P5's rule)": summarise([(safe_graph_f1(p["text"], x), rouge_l(p["text"], x)) for p, x in zip(pp, texts)]),
            "chosen by read-back log p(x | V(ẋ))": summarise(pick(lp.argmax(1))),
            "oracle: highest Graph F1": summarise(pick(f1.argmax(1))),
            "oracle among ROUGE-L <= 0.55 (F1 0 where none)": {
                "graph_f1": round(float(ok.max(1).values.clamp(min=0).mean()), 4),
                "inputs with such a candidate": round(float((rl <= 0.55).any(1).float().mean()), 4)},
            "candidates": summarise(list(zip(f1.flatten().tolist(), rl.flatten().tolist()))),
        }
        print(k, json.dumps(res[f"k={k}"]), flush=True)
    atomic_write_text(Path(a.out), json.dumps(res, indent=1) + "\n")
