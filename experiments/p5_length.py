"""Where do the round trip's non-copies lose the meaning? A probe (not part of the pipeline).

The decoder reads V at the anchor of the position it writes (04_decoder), so a sample that says a phrase with another
number of words ('left of' for 'to the left of', 'a pair of' for 'two') reads every later word from cells that hold
another word of the input. This probe samples k candidates per held-out sentence (top-p, as P5 does) from the P4 and
the P5 decoder of a run and sorts them by how they differ from the input: verbatim copies; the same number of words
(only words swapped in place); another number of words. Per class: share, Graph F1, ROUGE-L, and the share that
parses. Then, teacher-forced, how the P4 decoder reads each relation word back: its own form, another form of the same
relation (a synonym: harmless), or the other direction ('right' for 'left', 'on' for 'under': the meaning flips).
Results: nbs/results/p5_length_cpu.json.

    python experiments/p5_length.py runs/cpu-267451d680
"""
import argparse, json
from collections import Counter
from pathlib import Path
import torch
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.config import atomic_write_text
from vislat.decoder import latent_and_z, safe_graph_f1
from vislat.roundtrip import sample_candidates
from vislat.latent import evalpack
from vislat.checker import rouge_l
from vislat.diffusion import parses

# relation words by the direction they give the first-named object ('X supports Y': X is below; 'X is supported by Y': above)
DIRECTION = {"left": "left", "right": "right", "above": "up", "over": "up", "on": "up", "top": "up", "supported": "up",
             "below": "down", "under": "down", "beneath": "down", "underneath": "down", "supports": "down", "support": "down",
             "front": "front", "behind": "back", "back": "back", "next": "next", "beside": "next"}

def classify(src: str, cand: str) -> str:
    if cand == src: return "copy"
    return "same length" if len(cand.split()) == len(src.split()) else "other length"

def probe(enc, dec, tok, texts, k, top_p, seed=0) -> dict:
    gen, rows = torch.Generator().manual_seed(seed), []
    with torch.no_grad():
        for i in range(0, len(texts), 100):
            ids, mask = tok.encode(texts[i:i + 100]); V, z = latent_and_z(enc, ids, mask)
            cands = tok.decode(sample_candidates(dec, V, z, k, top_p, gen, tok.max_len).flatten(0, 1))
            rows += [(texts[i + j // k], c) for j, c in enumerate(cands)]
    out = {}
    for name in ("copy", "same length", "other length"):
        sel = [(s, c) for s, c in rows if classify(s, c) == name]
        if not sel: out[name] = {"share": 0.0}; continue
        out[name] = {"share": round(len(sel) / len(rows), 4),
                     "graph_f1": round(sum(safe_graph_f1(c, s) for s, c in sel) / len(sel), 4),
                     "rouge_l": round(sum(rouge_l(c, s) for s, c in sel) / len(sel), 4),
                     "parses": round(sum(parses(c) for _, c in sel) / len(sel), 4),
                     "examples": [[s, c] for s, c in sel[:4]]}
    return out

def relation_reads(enc, dec, tok, texts) -> dict:
    "Teacher-forced argmax reads of the relation words: right, another form of the same relation, another direction."
    tot, same, flip, other, pairs = 0, 0, 0, 0, Counter()
    ids, mask = tok.encode(texts)
    with torch.no_grad():
        for i in range(0, len(texts), 100):
            x, m = ids[i:i + 100], mask[i:i + 100]; V, z = latent_and_z(enc, x, m)
            pred, tm = dec(x[:, :-1], V, z).argmax(-1), m[:, 1:]
            for t, p in zip(x[:, 1:][tm].tolist(), pred[tm].tolist()):
                w, q = (tok.hf.id_to_token(j).lstrip("Ġ") for j in (t, p))
                if w not in DIRECTION: continue
                tot += 1
                if q == w: continue
                if q not in DIRECTION: other += 1
                elif DIRECTION[q] == DIRECTION[w]: same += 1
                else: flip += 1; pairs[f"{w} -> {q}"] += 1
    return {"relation_tokens": tot, "read_right": round(1 - (same + flip + other) / tot, 4), "another_form": round(same / tot, 4),
            "direction_flipped": round(flip / tot, 4), "not_a_relation": round(other / tot, 4), "top_flips": pairs.most_common(8)}

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run"); ap.add_argument("--n", type=int, default=300); ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--out", default="nbs/results/p5_length_cpu.json")
    a = ap.parse_args()
    cfg = run_config(a.run); runs = Path(a.run).parent
    texts = evalpack().texts_a()[:a.n]; res = {"run": Path(a.run).name, "n": a.n, "k": a.k, "top_p": cfg.round_trip.top_p}
    p4 = ensure("P4", cfg, runs, verbose=False)
    res["P4 decoder, P3 encoder"] = probe(p4["encoder"].eval(), p4["decoder"].eval(), p4["tokenizer"], texts, a.k, cfg.round_trip.top_p)
    res["P4 teacher-forced relation words (1000 sentences)"] = relation_reads(p4["encoder"].eval(), p4["decoder"].eval(), p4["tokenizer"], evalpack().texts_a()[:1000])
    p5 = ensure("P5", cfg, runs, verbose=False)
    res["P5 decoder, P5 encoder"] = probe(p5["encoder"].eval(), p5["decoder"].eval(), p5["tokenizer"], texts, a.k, cfg.round_trip.top_p)
    print(json.dumps(res, indent=1)[:4000])
    atomic_write_text(Path(a.out), json.dumps(res, indent=1) + "\n")
