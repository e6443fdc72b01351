"""Is the reader now the bottleneck for DDIM samples? (not part of the pipeline)

`experiments/p6_prior_steps.py` found that a longer-trained Uθ draws latents with the statistics of real ones,
whose greedy readings are sentences with local slips (17–22 % parse, against 80 % for real latents). This
script asks whether a decoder that has seen latents in the prior's style reads them better. It loads the run's P6
encoder and re-fitted decoder and a Uθ saved by `p6_prior_steps.py --save=...`, then fine-tunes copies of
the decoder by teacher forcing on fresh training sentences x for the same steps:

- *prior-style*: for half of each batch, V(x) is replaced by Uθ's reconstruction of a noised V(x) (noise level t
  drawn in [20, t_hi], t_hi 150 or 400, then DDIM back to 0 every 50 levels: an SDEdit round trip), paired with x;
- *control*: the same steps on V(x) alone (more training, no prior-style inputs).

All are scored on 200 DDIM samples (50 steps, fixed seed) and on 200 held-out sentences' real latents
(parse share, exact reconstruction).

    python experiments/p6_reader.py runs/cpu-7127a925f9 unet.safetensors [steps] [out.json]
"""
import copy, random, sys, time
from pathlib import Path
import torch
from safetensors.torch import load_file
from vislat.api import run_config
from vislat.pipeline import ensure
from vislat.config import save_json
from vislat.latent import evalpack, encode_texts
from vislat.domain import sample_sentences, normalize_text
from vislat.decoder import teacher_forcing_ce, latent_and_z, decoder_lr
from vislat.diffusion import build_unet, cosine_alpha_bar, ddim_sample, ddim_step, q_sample, read_latents, parses

@torch.no_grad()
def sdedit(unet, V, t: int, alpha_bar, stride: int, generator):
    "Noise V to level t, then DDIM back to level 0 every `stride` levels (Meng et al. 2022)."
    x = q_sample(V, torch.full((len(V),), t), torch.randn(V.shape, generator=generator), alpha_bar)
    levels = list(range(t, -1, -stride)) + ([0] if t % stride else [])
    for i, s in enumerate(levels):
        a_prev = float(alpha_bar[levels[i + 1]]) if i + 1 < len(levels) else 1.0
        x = ddim_step(x, unet(x, torch.full((len(V),), s)), float(alpha_bar[s]), a_prev)
    return x

def finetune(dec, enc, tok, unet, alpha_bar, steps, prior_share, lr, seed=0, batch=64, t_lo=20, t_hi=400, stride=50):
    "Teacher-forced CE on fresh training sentences; `prior_share` of each batch reads Uθ's SDEdit of V(x)."
    dec = copy.deepcopy(dec).train().requires_grad_(True)
    opt = torch.optim.AdamW(dec.parameters(), lr, weight_decay=0.0)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    for step in range(steps):
        ids, mask = tok.encode(sample_sentences(batch, rng, "train"))
        V, _ = latent_and_z(enc, ids, mask)
        m = round(prior_share * batch)
        if m: V = torch.cat([sdedit(unet, V[:m], rng.randint(t_lo, t_hi), alpha_bar, stride, gen), V[m:]])
        loss = teacher_forcing_ce(dec, ids, mask, V, enc.readout(V).float())
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return dec.eval()

def score(dec, enc, tok, samples, real, real_texts):
    reads, real_reads = read_latents(enc, dec, tok, samples), read_latents(enc, dec, tok, real)
    share = lambda ts: sum(map(parses, ts)) / len(ts)
    return {"parse_samples": share(reads), "parse_real": share(real_reads),
            "exact_real": sum(a == normalize_text(b) for a, b in zip(real_reads, real_texts)) / len(real_texts),
            "readings": reads[:12]}

def main(run: str, unet_path: str, steps: int=200, out: str|None=None, n: int=200):
    cfg = run_config(run); torch.manual_seed(cfg.seed); lr = 0.3 * decoder_lr(cfg)
    p6 = ensure("P6", cfg, verbose=False); enc, dec, tok = p6["encoder"].eval(), p6["decoder"].eval(), p6["tokenizer"]
    unet = build_unet(cfg); unet.load_state_dict(load_file(unet_path)); unet.eval().requires_grad_(False)
    ab = cosine_alpha_bar(cfg.diffusion.timesteps)
    samples = ddim_sample(unet, n, (cfg.latent.C, cfg.latent.H, cfg.latent.W), ab, cfg.diffusion.ddim_steps, torch.Generator().manual_seed(0))
    real_texts = evalpack().texts_a()[:n]; real = encode_texts(enc, tok, real_texts)
    res = {"run": str(run), "unet": Path(unet_path).name, "steps": steps, "lr": lr, "batch": 64, "prior_share": 0.5,
           "t_lo": 20, "stride": 50, "n": n}
    res["re-fitted decoder (P6)"] = score(dec, enc, tok, samples, real, real_texts)
    for name, share, t_hi in (("control: + steps on V(x)", 0.0, 0), ("prior-style, t ≤ 150: + steps, half SDEdit(V(x))", 0.5, 150),
                              ("prior-style, t ≤ 400: + steps, half SDEdit(V(x))", 0.5, 400)):
        t0 = time.time(); d = finetune(dec, enc, tok, unet, ab, steps, share, lr, t_lo=20, t_hi=t_hi)
        res[name] = {**score(d, enc, tok, samples, real, real_texts), "train_s": round(time.time() - t0, 1)}
    for k, v in res.items():
        if isinstance(v, dict): print(f"{k}: parse samples {v['parse_samples']:.3f}, parse real {v['parse_real']:.3f}, exact real {v['exact_real']:.3f}", flush=True)
    save_json(out or f"nbs/results/p6_reader_{cfg.profile}.json", res)

if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], *(int(x) for x in a[2:3]), *a[3:4])
