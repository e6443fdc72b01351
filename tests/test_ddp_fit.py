"""Data-parallel training inside the engine (run by `.ci/run` through `pytest tests/`).

- `vislat.train.fit` in 2 gloo processes against one process on the same global batches, with the phases' own losses
  on both sides (`p1_loss`; `p2_loss` and `p3_loss`, which gather over ranks, with `shard_scenes`): 4 AdamW steps of
  P1, P2 and P3 under `smoke`, in float64 (see nbs/08_reliability.ipynb for why float32 is no test of DDP under Adam).
  Final and EMA weights within 1e-6, every logged metric within 1e-9 relative, only rank 0 wrote files, no `module.`
  prefix in any checkpoint. The same for P2 with the optional VICReg and Barlow terms switched on.
- The documented torchrun command (`TORCHRUN_SCRIPT`, 2 processes on gloo) trains P1 and P2.
The losses live in `vislat.latent`, `vislat.contrast` and `vislat.jitter` (nbs/01_latent, 02_contrast, 03_jitter), the
harness in `vislat.reliability` (nbs/08_reliability.ipynb) and the engine in `vislat.train` (nbs/01d_train.ipynb).
"""
import os, subprocess, time
import pandas as pd
from safetensors.torch import load_file
from vislat.config import load_json
from vislat.reliability import ddp_fit_equivalence, TORCHRUN_SCRIPT, torchrun_command


def _check_fit(phases, overrides=("device=cpu",)):
    t0 = time.time()
    r = ddp_fit_equivalence("smoke", steps=4, world=2, phases=phases, dtype="float64", overrides=overrides)
    df = pd.DataFrame(r["rows"])
    print(df.to_string()); print({k: v for k, v in r.items() if k != "rows"}, f"{time.time() - t0:.0f} s")
    assert list(df.phase) == list(phases), df
    assert r["writes_per_rank"][0] > 0 and r["writes_per_rank"][1] == 0, r["writes_per_rank"]
    assert (df.max_abs_param_err <= 1e-6).all() and (df.max_abs_ema_err <= 1e-6).all(), df
    assert (df.max_abs_update > 1e-3).all(), df                       # the 4 steps moved the weights ≫ the tolerance
    assert (df.max_rel_metric_err <= 1e-9).all() and (df.metric_rows == 1).all(), df
    assert df.same_columns.all() and df.same_keys.all() and df.same_files.all(), df
    assert (df.keys_checked > 0).all() and (df.module_keys == 0).all() and (df.rng_ranks == 2).all(), df
    return r


def test_fit_two_processes():
    _check_fit(("P1", "P2", "P3"))


def test_fit_two_processes_vicreg_barlow():
    r = _check_fit(("P2",), ("device=cpu", "contrastive.vicreg=0.5", "contrastive.barlow=0.1"))
    cols = pd.read_csv(f"{r['dir']}/ddp/P2/metrics.csv").columns
    assert "loss_vicreg" in cols and "loss_barlow" in cols, list(cols)


def test_torchrun_script(tmp_path):
    script, out = tmp_path / "train_ddp.py", tmp_path / "out"
    script.write_text(TORCHRUN_SCRIPT)
    p = subprocess.run(torchrun_command(script, "smoke", str(out), "device=cpu", "steps.P1=4", "steps.P2=4", nproc=2),
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    for ph in ("P1", "P2"):
        m = pd.read_csv(out / ph / "metrics.csv")
        assert len(m) == 1 and m.loss.notna().all(), m
        assert load_json(out / ph / "timing.json")["world"] == 2
        keys = load_file(out / ph / "ckpt" / "step-0000004" / "model.safetensors")
        assert keys and not any(k.startswith("module.") for k in keys)
