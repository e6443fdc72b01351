"""Does P4 gain from starting at the P3 reader? (a probe; not part of the pipeline)

P2 and P3 co-train a decoder beside the encoder (`contrastive.recon`), the *reader*, with the same
architecture as P4's Dψ. P4 trains Dψ from fresh weights. This probe trains it from a copy of the reader
instead (`train_decoder(init=...)`), same recipe and steps, and scores both on the held-out eval pack:
the P4 metrics (content-token accuracy, shuffle-V CE rise, attention entropy) and greedy reconstruction.

    python experiments/p4_warm.py runs/cpu-0c19316a04 --steps 600
"""
import argparse, json, time
from pathlib import Path
import torch
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.config import save_json
from vislat.latent import evalpack
from vislat.decoder import train_decoder, eval_latents, p4_metrics, content_token_mask, reconstruction_report, load_decoder

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("run"); ap.add_argument("--steps", type=int, default=600)
ap.add_argument("--n", type=int, default=1000, help="held-out sentences scored")
ap.add_argument("--out", default="nbs/results/p4_warm_cpu.json")
a = ap.parse_args()
cfg = run_config(a.run); root = Path(a.run).parent
p3 = ensure("P3", cfg, root, verbose=False)
enc, tok, reader = p3["encoder"], p3["tokenizer"], p3["reader"]
ev, content = eval_latents(enc, tok, evalpack().texts_a()[:a.n]), content_token_mask(tok)
keys = ("acc_content", "acc_function", "ce", "shuffle_ce_increase", "attn_entropy", "acc_content_zeroed")

def score(dec, **extra):
    m = p4_metrics(dec.eval(), enc, ev, content, cfg.seed); r = reconstruction_report(dec, enc, tok, ev["texts"], 5)
    row = {k: m[k] for k in keys} | {k: r[k] for k in ("exact_match", "graph_f1", "graph_exact")} | extra
    print(json.dumps(row)); return row

out = {"run": a.run, "n": a.n, "steps": a.steps}
out["reader_as_is"] = score(reader, steps=0)
out["p4_fresh"] = score(load_decoder(cfg, tok, Path(a.run)/"P4"/"ema.safetensors"), steps=cfg.steps.P4)
t0 = time.time(); res = train_decoder(cfg, enc, tok, None, a.steps, init=reader, desc="P4 from the reader")
out["p4_warm"] = score(res.ema, steps=a.steps, seconds=round(time.time() - t0, 1))
out["p4_warm_curve"] = [{k: r[k] for k in ("step", "acc_content", "ce") if k in r} for r in res.metrics.rows if "acc_content" in r]
save_json(a.out, out); print("wrote", a.out)
