"""Do P5's paraphrases lose their meaning where a rewording changes the length? (not part of the pipeline)

For each run: best-of-k paraphrases of 400 held-out sentences under the run's settings; Graph F1 of those with
and without a length-changing edit (an insertion, deletion or unequal replacement of words against the input);
and, after the first such edit (a shift by d words), how often output word j repeats input word j (the cells
the decoder's anchor for position j points at) or input word j − d (where the content moved). Discussed in
05_roundtrip.

    python experiments/p5_shift.py runs/cpu-7127a925f9 runs/cpu-f83e2a2d65
"""
import difflib, statistics as st, sys
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.roundtrip import paraphrase
from vislat.latent import evalpack
from vislat.decoder import safe_graph_f1
from vislat.domain import normalize_text

def first_shift(xs: list[str], ys: list[str]):
    "The first opcode that changes the length (insert, delete, unequal replace), or None."
    ops = difflib.SequenceMatcher(a=xs, b=ys, autojunk=False).get_opcodes()
    return next((o for o in ops if o[0] in ("insert", "delete") or (o[0] == "replace" and o[2] - o[1] != o[4] - o[3])), None)

for run in sys.argv[1:]:
    cfg = run_config(run); p = ensure("P5", cfg, verbose=False)
    held = evalpack().texts_a()[:400]; src = [normalize_text(t) for t in held]
    rt = cfg.round_trip
    pp = [q["text"] for q in paraphrase(p["encoder"], p["decoder"], p["tokenizer"], held, rt.k, rt.top_p, rt.copy_select, cfg.seed)]
    kept, shifted, anchored, moved = [], [], [], []
    for x, y in zip(src, pp):
        xs, ys = x.split(), y.split(); o = first_shift(xs, ys)
        (kept if o is None else shifted).append(safe_graph_f1(y, x))
        if o is None: continue
        d = (o[4] - o[3]) - (o[2] - o[1])
        js = [j for j in range(o[4], min(len(ys), len(xs))) if 0 <= j - d < len(xs)]
        if len(js) >= 3:
            anchored.append(sum(ys[j] == xs[j] for j in js) / len(js)); moved.append(sum(ys[j] == xs[j - d] for j in js) / len(js))
    mean = lambda v: st.mean(v) if v else float("nan")
    print(f"{run}: no length change n={len(kept)} Graph F1 {mean(kept):.3f} | length change n={len(shifted)} Graph F1 {mean(shifted):.3f}"
          f" | after the shift, word j = input j {mean(anchored):.3f}, = input j − d {mean(moved):.3f} (n={len(anchored)})")
