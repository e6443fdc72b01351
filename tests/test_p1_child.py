"""P1 trains its second seed in a child process on 2+ CPU cores. The child must not re-run the caller's script:
a script without an `if __name__ == "__main__":` guard that calls `ensure` once ran it again in a `multiprocessing`
spawn child, which then waited forever on the phase's lock (found 2026-11-27 running the P7 seeds from a script)."""
import os, subprocess, sys, textwrap
import pytest

@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the second P1 seed trains in-process on one core")
def test_unguarded_script_trains_p1(tmp_path):
    script = tmp_path/"train.py"
    # smoke sizes with enough P1 steps × batch (≥ 5000) that the second seed goes to a child process
    script.write_text(textwrap.dedent('''
        from vislat.config import get_config
        from vislat.pipeline import ensure
        from vislat.latent import seeds_in_parallel
        cfg = get_config("smoke", ["device=cpu", "steps.P1=320", "eval.every=160", "eval.ckpt_every=160"])
        assert seeds_in_parallel(cfg)
        ensure("P1", cfg, verbose=False)
        print("P1 done")
    '''))
    env = {**os.environ, "VISLAT_RUNS": str(tmp_path/"runs"), "TQDM_DISABLE": "1"}
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("P1 done") == 1, r.stdout[-3000:]
