"""Can an anchored decoder paraphrase if its read position follows a pointer into the input? A probe (not part of the pipeline).

The P4 decoder reads V at the anchor of the token it writes: position t reads the cells of input token t. A
paraphrase that changes a phrase's length ('two' → 'a pair of') shifts every later position off its cells, and
the cross-view probe (p5_crossview.py) found that a decoder asked to re-plan the sentence ignores V. This probe
keeps the clause and object order and changes every word the lexicon lets change (template, determiners, size
words, shape nouns, relation phrases: the domain's views 2, 3 and 5 applied everywhere at once; ROUGE-L 0.47 on
average against the input, Graph F1 1.0). The anchor of the position that writes target token j is the input token
that j is aligned with (a monotone edit alignment of the two token sequences that keeps every shared token: text
only), and an advance head predicts how far the pointer moves after each token, from the decoder's state and the
token written. At inference the pointer starts at the first token and moves by the predicted advance.
Results: nbs/results/p5_pointer_cpu.json, discussed in 05_roundtrip. The runs stored there:

    python experiments/p5_pointer.py runs/cpu-fb753437be --targets_only
    python experiments/p5_pointer.py runs/cpu-fb753437be --copy_reads
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 400 --n_eval 200 --save p400.pt
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 400 --n_eval 200 --widen 2 --save w2.pt
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 1200 --lr 1e-3 --fixed --widen 1.5 --n_eval 200 --save f1200.pt
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 1200 --lr 1e-3 --fixed --widen 2.5 --n_eval 200 --save w25.pt
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 2000 --lr 7e-4 --fixed --widen 1.5 --init f1200.pt --seed 1 --eval_every 500 --save f3200.pt
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 2000 --lr 5e-4 --fixed --widen 1.5 --init f3200.pt --seed 2 --eval_every 500 --save f5200.pt
    python experiments/p5_pointer.py runs/cpu-fb753437be --steps 2000 --lr 4e-4 --fixed --widen 1.5 --init f5200.pt --seed 3 --eval_every 1000 --save f7200.pt --name 'fixed rewrite, read σ ×1.5, 1200 + 2000 + 2000 + 2000 steps'

(`--steps 0 --init f3200.pt --fixed --widen 1.5` re-evaluates a checkpoint and adds the teacher-forced diagnosis.)
"""
import argparse, copy, json, random, time
from collections import Counter
from pathlib import Path
import torch, torch.nn.functional as F
from torch import nn
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.config import atomic_write_text
from vislat.decoder import latent_and_z, safe_graph_f1, content_token_mask
from vislat.roundtrip import round_trip_cos, choose, copy_penalty, top_p_pick
from vislat.latent import evalpack
from vislat.checker import rouge_l
from vislat.domain import (normalize_text, sample_realisations, render, copy_realisation, N_INDEF, COUNT_DETS,
                           SHAPE_NOUNS, REL_PHRASES, PATTERNS)
from vislat.tokenizer import BOS_ID, EOS_ID, PAD_ID

def relexicalise(r, rng, fixed=False):
    "Every word the lexicon lets change, changed, clause and object order kept (views 2, 3, 5 everywhere); `fixed`: each to the next form in the lexicon, no randomness."
    r = copy_realisation(r)
    for c in r:
        if c[0] in PATTERNS[:2]: c[0] = 'existential' if c[0] == 'copular' else 'copular'
        for j, m in ((2, c[2]), (3, c[3])):
            n = N_INDEF[m[0].count] if j == 2 and c[0] == 'existential' else len(COUNT_DETS[m[0].count])
            if m[1] >= n: m[1] = 0 if fixed else rng.randrange(n)
            elif n > 1: m[1] = (m[1] + 1 + (0 if fixed else rng.randrange(n - 1))) % n
            if m[0].size: m[2] = 1 - m[2]
            if len(SHAPE_NOUNS[m[0].shape]) > 1: m[3] = 1 - m[3]
        if c[1] and len(REL_PHRASES[c[1]]) > 1:
            n = len(REL_PHRASES[c[1]]); c[4] = (c[4] + 1 + (0 if fixed else rng.randrange(n - 1))) % n
    return r

def align(src: list, tgt: list) -> list:
    "For each target token, the (1-based) source position it reads: a monotone edit alignment that keeps every token the two share (LCS), substitutes within the gaps, right-aligned; an inserted token reads the next source token."
    n, m, SUB = len(src), len(tgt), 1.9                       # substitution < insertion + deletion, > any gain in shared tokens
    D = [[0.] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1): D[i][0] = float(i)
    for j in range(m + 1): D[0][j] = float(j)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i][j] = min(D[i - 1][j - 1] + (0. if src[i - 1] == tgt[j - 1] else SUB), D[i - 1][j] + 1, D[i][j - 1] + 1)
    i, j, a = n, m, [0] * m
    while j > 0:                                              # from the end: within a gap, pairs form at its right end
        if i > 0 and abs(D[i][j] - D[i - 1][j - 1] - (0. if src[i - 1] == tgt[j - 1] else SUB)) < 1e-9: a[j - 1] = i; i -= 1; j -= 1
        elif i > 0 and abs(D[i][j] - D[i - 1][j] - 1) < 1e-9: i -= 1
        else: a[j - 1] = i + 1; j -= 1                         # inserted: reads the next source token
    if m: a[0] = 1                                             # the pointer starts at the first source token
    return a

class Pointer(nn.Module):
    "The P4 decoder in paraphrase mode: z shifted by a learned vector, anchors at a pointer, an advance head."
    def __init__(self, dec, n_adv=6, widen=1.0):
        super().__init__()
        self.widen = widen                                     # σ of the paraphrase read / σ of the copy read
        self.dec, d = dec, dec.z_in[0].out_features
        self.shift = nn.Parameter(torch.zeros(dec.z_in[0].in_features))
        self.adv = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, n_adv))
        self.n_adv = n_adv
    def hidden(self, ids, rows, V, z):
        "ids (B, L) from BOS, rows (B, L + 1) anchor rows (row 0: the z-token) → final states (B, L, d)."
        d = self.dec; L = ids.shape[1]
        x = torch.cat([d.z_in(z + self.shift)[:, None], d.tok(ids)], 1) + d.pos.weight[:L + 1]
        mem, bias = d.mem(V), d.anchor[rows.clamp(0, d.max_len)] / self.widen ** 2
        for b in d.blocks: x = b(x, mem, bias=bias)[0]
        return d.ln_f(x[:, 1:])
    def logits(self, h): return self.dec.head(h).masked_fill(~self.dec.allowed, float("-inf"))
    def advance(self, h, y): return self.adv(torch.cat([h, self.dec.tok(y)], -1))

def pairs(rs, rng, tok, fixed=False):
    "Source ids, target ids, target anchor rows (B, L) and advances (B, L − 1) (−100 where undefined)."
    src = [render(r) for r in rs]; tgt = [render(relexicalise(r, rng, fixed)) for r in rs]
    sid, smask = tok.encode(src); tid, tmask = tok.encode(tgt)
    rows = torch.zeros(tid.shape, dtype=torch.long); adv = torch.full((tid.shape[0], tid.shape[1] - 1), -100, dtype=torch.long)
    for i in range(len(rs)):
        n, m = int(smask[i].sum()) - 2, int(tmask[i].sum()) - 2          # words between BOS and EOS
        a = align(sid[i, 1:n + 1].tolist(), tid[i, 1:m + 1].tolist()) + [n + 1]   # EOS reads the source EOS
        rows[i, 1:m + 2] = torch.tensor(a)                                 # row of the position predicting target token j
        for j in range(1, m + 1): adv[i, j - 1] = min(a[j] - a[j - 1], 5)  # the state that wrote token j: how far to move
    return src, tgt, sid, smask, tid, tmask, rows, adv

@torch.no_grad()
def sample(ptr, V, z, k, top_p, gen, max_len):
    "k samples per latent: tokens by nucleus sampling, the pointer by the advance head's most likely step."
    d, pick = ptr.dec, top_p_pick(top_p, gen); BK = V.shape[0] * k
    mem = d.mem(V); caches = [{} for _ in d.blocks]
    x = d.z_in(z + ptr.shift).repeat_interleave(k, 0)[:, None] + d.pos.weight[:1]
    for b, c in zip(d.blocks, caches): x = b(x, mem, cache=c)[0]        # the z-token reads without a bias (anchor row 0)
    ids = torch.full((BK, 1), BOS_ID); ptr_at = torch.ones(BK, dtype=torch.long); done = torch.zeros(BK, dtype=torch.bool)
    out = [ids[:, 0]]
    for t in range(1, max_len):
        x = d.tok(out[-1])[:, None] + d.pos.weight[t:t + 1]
        bias = d.anchor[ptr_at.clamp(0, d.max_len)][:, None] / ptr.widen ** 2
        for b, c in zip(d.blocks, caches): x = b(x, mem, cache=c, bias=bias)[0]
        h = d.ln_f(x[:, 0]); lg = ptr.logits(h)
        y = torch.where(done, torch.full_like(ptr_at, PAD_ID), pick(lg))
        ptr_at = ptr_at + ptr.advance(h, y).argmax(-1); out.append(y); done |= y == EOS_ID
        if done.all(): break
    return torch.stack(out, 1)

@torch.no_grad()
def diagnose(ptr, enc, tok, fixed, n=200, seed=5):
    "Teacher-forced view of the errors on held-out pairs: accuracy with V and with V zeroed, whole-sentence and whole-pointer accuracy, the most missed tokens."
    ptr.eval(); rng = random.Random(seed); rs = [r for _, r in sample_realisations(n, rng, "heldout")]
    _, _, sid, smask, tid, tmask, rows, adv = pairs(rs, rng, tok, fixed)
    V, z = latent_and_z(enc, sid, smask); t, tm, am = tid[:, 1:], tmask[:, 1:], adv != -100
    content, out = content_token_mask(tok)[t] & tm, {}
    for name, VV in (("V", V), ("V zeroed", V * 0)):
        h = ptr.hidden(tid[:, :-1], rows, VV, z); ok = ptr.logits(h).argmax(-1) == t; okA = ptr.advance(h, t).argmax(-1) == adv
        out[name] = {"content_acc": ok[content].float().mean().item(), "function_acc": ok[tm & ~content].float().mean().item(),
                     "advance_acc": okA[am].float().mean().item(), "sentences_all_tokens_right": (ok | ~tm).all(1).float().mean().item(),
                     "sentences_all_advances_right": (okA | ~am).all(1).float().mean().item()}
        if name == "V": out["most_missed"] = Counter(tok.hf.id_to_token(int(x)).lstrip("Ġ") for x in t[~ok & tm]).most_common(12)
    ptr.train()
    return out

def merge_result(out: Path, key: str, value):
    "Store `value` under `key` in the results file `out`, keeping the other entries (written atomically)."
    allres = json.loads(out.read_text()) if out.exists() else {}
    allres[key] = value
    atomic_write_text(out, json.dumps(allres, indent=1, ensure_ascii=False))

def evaluate(ptr, enc, tok, n_eval, k=8, ks=(1, 4, 8), lams=(0.0, 0.5, 1.0)):
    "Graph F1, ROUGE-L, round-trip cosine and verbatim share of the best of k samples per held-out sentence."
    ptr.eval(); held = evalpack().texts_a()[:n_eval]; src = [normalize_text(t) for t in held]
    with torch.no_grad():
        ids, mask = tok.encode(held); V, z = latent_and_z(enc, ids, mask)
        cands = tok.decode(sample(ptr, V, z, k, 0.9, torch.Generator().manual_seed(0), tok.max_len))
        cos = round_trip_cos(enc, tok, F.normalize(z, dim=1), cands)
    rows = []
    for kk in ks:
        for lam in lams:
            texts = [cands[i * k + j] for i in range(len(held)) for j in range(kk)]
            j = choose(cos[:, :kk], copy_penalty(held, texts, lam)).tolist()
            pick = [texts[i * kk + j[i]] for i in range(len(held))]
            f1 = list(map(safe_graph_f1, pick, src)); ok = [safe_graph_f1(p, p) == 1.0 for p in pick]   # ok: a valid scene description
            rows.append({"k": kk, "copy_select": lam, "graph_f1": round(sum(f1) / len(src), 4),
                         "rouge_l": round(sum(map(rouge_l, pick, src)) / len(src), 4),
                         "rt_cos": round(cos[:, :kk].gather(1, torch.tensor(j)[:, None]).mean().item(), 4),
                         "verbatim": round(sum(p == s for p, s in zip(pick, src)) / len(src), 4),
                         "parse_rate": round(sum(ok) / len(src), 4),
                         "graph_f1_parsed": round(sum(f for f, o in zip(f1, ok) if o) / max(sum(ok), 1), 4)})
    ptr.train()
    return rows, src, cands

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run"); ap.add_argument("--steps", type=int, default=500); ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4); ap.add_argument("--n_eval", type=int, default=300)
    ap.add_argument("--out", default="nbs/results/p5_pointer_cpu.json"); ap.add_argument("--save", default="")
    ap.add_argument("--widen", type=float, default=1.0); ap.add_argument("--fixed", action="store_true")
    ap.add_argument("--init", default=""); ap.add_argument("--eval_every", type=int, default=0); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="", help="key of this run in --out (default: derived from the settings)")
    ap.add_argument("--targets_only", action="store_true", help="only score the relexicalised targets against their inputs")
    ap.add_argument("--copy_reads", action="store_true", help="only measure how well the P4 decoder reads each kind of word back (teacher-forced)")
    a = ap.parse_args()
    if a.copy_reads:                                           # which words does V give back, when the decoder copies?
        cfg = run_config(a.run); p4 = ensure("P4", cfg, Path(a.run).parent, verbose=False)
        enc, dec, tok, held = p4["encoder"].eval(), p4["decoder"].eval(), p4["tokenizer"], evalpack().texts_a()[:500]
        ids, mask = tok.encode(held); tot, bad = Counter(), Counter()
        with torch.no_grad():
            for i in range(0, len(held), 100):
                x, m = ids[i:i + 100], mask[i:i + 100]; V, z = latent_and_z(enc, x, m)
                ok, tm = dec(x[:, :-1], V, z).argmax(-1) == x[:, 1:], m[:, 1:]
                for t, o in zip(x[:, 1:][tm].tolist(), ok[tm].tolist()):
                    w = tok.hf.id_to_token(t).lstrip("Ġ"); tot[w] += 1; bad[w] += not o
        groups = {"words with another form": "the a an one two pair cube cubes block blocks sphere spheres ball balls small little large big".split(),
                  "colours": "red green blue yellow purple orange white black".split(),
                  "shape nouns with one form": "cylinder cylinders cone cones pyramid pyramids".split()}
        res = {g: {"tokens": sum(tot[w] for w in ws), "accuracy": 1 - sum(bad[w] for w in ws) / sum(tot[w] for w in ws)} for g, ws in groups.items()}
        res["all tokens"] = {"tokens": sum(tot.values()), "accuracy": 1 - sum(bad.values()) / sum(tot.values())}
        print(res); merge_result(Path(a.out), "p4_copy_reads", res); raise SystemExit
    if a.targets_only:                                         # how far the targets move, in the gate's own measures
        from vislat.domain import realisation_graph
        out, rng, res = Path(a.out), random.Random(0), {}
        rs = [r for _, r in sample_realisations(400, rng, "heldout")]
        for fixed in (False, True):
            ys = [relexicalise(r, rng, fixed) for r in rs]
            rl = [rouge_l(render(y), render(r)) for r, y in zip(rs, ys)]
            res["fixed" if fixed else "random"] = {"rouge_l": sum(rl) / len(rl), "share_rouge_ok": sum(v <= 0.55 for v in rl) / len(rl),
                "graph_f1": sum(safe_graph_f1(render(y), render(r)) for r, y in zip(rs, ys)) / len(rs)}
        print(res); merge_result(out, "targets", res); raise SystemExit
    torch.manual_seed(a.seed); rng = random.Random(a.seed)
    cfg = run_config(a.run); p4 = ensure("P4", cfg, Path(a.run).parent, verbose=False)
    enc, tok = p4["encoder"].eval().requires_grad_(False), p4["tokenizer"]
    ptr = Pointer(copy.deepcopy(p4["decoder"]), widen=a.widen).train()
    if a.init: ptr.load_state_dict(torch.load(a.init))
    curve = []
    opt = torch.optim.AdamW(ptr.parameters(), lr=a.lr, weight_decay=0.0); t0 = time.time()
    for s in range(a.steps):
        rs = [r for _, r in sample_realisations(a.batch, rng, "train")]
        _, _, sid, smask, tid, tmask, rows, adv = pairs(rs, rng, tok, a.fixed)
        V, z = latent_and_z(enc, sid, smask)
        h = ptr.hidden(tid[:, :-1], rows, V, z)
        tm = tmask[:, 1:]
        # L = −mean log p(y_j | y_<j, V at a_j) − mean log p(Δ_j | h_j, y_j)
        ce = F.cross_entropy(ptr.logits(h)[tm].float(), tid[:, 1:][tm])
        al = ptr.advance(h, tid[:, 1:])
        ce_adv = F.cross_entropy(al.reshape(-1, ptr.n_adv), adv.reshape(-1), ignore_index=-100)
        loss = ce + ce_adv
        for gr in opt.param_groups: gr["lr"] = a.lr * min(1, (s + 1) / 30) * (0.1 + 0.9 * (1 - s / a.steps))
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(ptr.parameters(), 1.0); opt.step()
        if a.eval_every and s % a.eval_every == 0:
            r4 = evaluate(ptr, enc, tok, 100, 4, (4,), (0.0,))[0][0]; curve.append({"step": s, **r4}); print("eval", curve[-1], flush=True)
        if s % 25 == 0 or s == a.steps - 1: print(f"step {s}  ce {ce.item():.3f}  adv {ce_adv.item():.3f}  {time.time() - t0:.0f} s", flush=True)
    train_s = time.time() - t0
    if a.save: torch.save(ptr.state_dict(), a.save)
    t1 = time.time(); rows, src, cands = evaluate(ptr, enc, tok, a.n_eval); k = 8
    diagnosis = diagnose(ptr, enc, tok, a.fixed); print(diagnosis, flush=True)
    for r in rows: print(r, flush=True)
    for i in range(8): print(src[i], " || ", cands[i * k])
    res = {"run": str(a.run), "steps": a.steps, "batch": a.batch, "train_seconds": round(train_s), "eval_seconds": round(time.time() - t1),
           "final_ce": ce.item() if a.steps else None, "final_adv": ce_adv.item() if a.steps else None, "n_eval": len(src), "rows": rows, "curve": curve, "init": a.init, "widen": a.widen, "fixed": a.fixed, "lr": a.lr,
           "samples": [[x, cands[i * k]] for i, x in enumerate(src[:20])], "diagnosis": diagnosis}
    name = a.name or f"{'fixed' if a.fixed else 'random'} widen {a.widen} {a.steps} steps" + (f" from {Path(a.init).name}" if a.init else "")
    merge_result(Path(a.out), name, res)
