"""How much training does the diffusion prior Uθ need before its DDIM samples read as sentences? (not part of the pipeline)

P6 trains Uθ for `diffusion.unet_steps` (250 on `cpu`) on a replay buffer of 512 latents before the joint steps,
and its DDIM samples parse 0 % although the re-fitted decoder reads 80 % of real latents. This script freezes the
run's P6 encoder and re-fitted decoder, fits a fresh Uθ of the run's size on a larger buffer of training latents,
and at each checkpoint draws DDIM samples and reads them greedily:

- parse share (valid scene graphs), distinct share, and novelty: the share of parsing samples whose scene graph
  is in no buffer sentence (a prior that memorised its buffer would score 0 here);
- the held-out DDPM loss on latents of held-out sentences (fixed t and ε), against the training loss;
- sample statistics against real latents (TV, batch α, gradient kurtosis).

    python experiments/p6_prior_steps.py runs/cpu-7127a925f9 [steps] [buffer] [out.json] [--save=unet.safetensors]

Writes the table as JSON (default nbs/results/p6_prior_steps_<profile>.json), read by 06_diffusion.
"""
import copy, random, sys, time
import torch
from safetensors.torch import save_file
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.config import save_json
from vislat.latent import evalpack, encode_texts
from vislat.domain import sample_sentences
from vislat.checker import extract_graph
from vislat.priors import latent_stats
from vislat.diffusion import build_unet, diffusion_loss, cosine_alpha_bar, ddim_sample, read_latents

def graph_key(text: str):
    "The canonical graph of `text` (`Graph.key`), or None when it does not parse."
    try: return extract_graph(text).key()
    except ValueError: return None

def stats(V):
    s = latent_stats(V); return {k: round(float(s[k]), 4) for k in ("tv", "alpha_batch", "grad_kurt_median", "n_alpha_ok")}

@torch.no_grad()
def heldout_loss(unet, V, alpha_bar, gamma, seed=0):
    "The min-SNR DDPM loss on fixed (t, ε) draws (as `p6_eval` does): comparable across checkpoints."
    return float(diffusion_loss(unet, V, alpha_bar, gamma, torch.Generator().manual_seed(seed)))

def main(run: str, steps: int=4000, buffer: int=4096, out: str|None=None, n_samples: int=100, batch: int=32):
    cfg = run_config(run); torch.manual_seed(cfg.seed); d = cfg.diffusion
    p6 = ensure("P6", cfg, verbose=False); enc, dec, tok = p6["encoder"].eval(), p6["decoder"].eval(), p6["tokenizer"]
    texts = sample_sentences(buffer, random.Random(1234), "train")
    buf_graphs = {graph_key(t) for t in texts}
    V = encode_texts(enc, tok, texts); held = encode_texts(enc, tok, evalpack().texts_a()[:256])
    real_parse = sum(graph_key(t) is not None for t in read_latents(enc, dec, tok, held[:n_samples])) / n_samples
    unet = build_unet(cfg); ema = copy.deepcopy(unet).requires_grad_(False)
    ab = cosine_alpha_bar(d.timesteps); opt = torch.optim.AdamW(unet.parameters(), d.lr, weight_decay=0.0)
    gen, shape = torch.Generator().manual_seed(cfg.seed), (cfg.latent.C, cfg.latent.H, cfg.latent.W)
    marks = sorted({m for m in (d.unet_steps, 500, 1000, 2000, 4000, 8000, steps) if m <= steps})
    rows, t0, run_loss = [], time.time(), 0.0
    print(f"buffer {buffer} latents, {steps} steps of batch {batch}; real held-out latents parse {real_parse:.2f}", flush=True)
    for step in range(1, steps + 1):
        idx = torch.randint(0, buffer, (batch,), generator=gen)
        loss = diffusion_loss(unet, V[idx], ab, d.min_snr_gamma, gen)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); run_loss += float(loss.detach())
        with torch.no_grad():                                    # EMA of the weights, decay 0.995
            for pe, p in zip(ema.parameters(), unet.parameters()): pe.lerp_(p, 0.005)
        if step in marks:
            train_s, te = time.time() - t0, time.time()
            S = ddim_sample(ema.eval(), n_samples, shape, ab, d.ddim_steps, torch.Generator().manual_seed(0))
            read = read_latents(enc, dec, tok, S); keys = [graph_key(t) for t in read]
            ok = [k for k in keys if k is not None]
            row = {"step": step, "train_s": round(train_s, 1), "train_loss": round(run_loss / step, 4),
                   "heldout_loss": round(heldout_loss(ema, held, ab, d.min_snr_gamma), 4),
                   "buffer_loss": round(heldout_loss(ema, V[:256], ab, d.min_snr_gamma), 4),
                   "parse_share": len(ok) / n_samples, "distinct_share": len(set(read)) / n_samples,
                   "novel_share_of_parsed": (sum(k not in buf_graphs for k in ok) / len(ok)) if ok else None,
                   "stats_samples": stats(S), "readings": read[:20]}
            rows.append(row); t0 += time.time() - te                # evaluation time does not count as training
            print(f"step {step}: parse {row['parse_share']:.2f}, distinct {row['distinct_share']:.2f}, novel {row['novel_share_of_parsed']}, "
                  f"loss train {row['train_loss']:.4f} held-out {row['heldout_loss']:.4f} buffer {row['buffer_loss']:.4f}, "
                  f"TV {row['stats_samples']['tv']:.3f}, {train_s:.0f} s", flush=True)
    res = {"run": str(run), "profile": cfg.profile, "buffer": buffer, "batch": batch, "n_samples": n_samples,
           "unet_channels": list(d.channels), "lr": d.lr, "ema": 0.995, "real_parse_share": real_parse,
           "stats_real": stats(held), "rows": rows, "threads": torch.get_num_threads()}
    save_json(out or f"nbs/results/p6_prior_steps_{cfg.profile}.json", res)
    return ema

if __name__ == "__main__":
    a = [x for x in sys.argv[1:] if not x.startswith("--save=")]
    save = next((x[len("--save="):] for x in sys.argv[1:] if x.startswith("--save=")), None)
    ema = main(a[0], *(int(x) for x in a[1:3]), *a[3:4])
    if save: save_file(ema.state_dict(), save)              # the EMA Uθ, for experiments/p6_reader.py
