"""A batch of 100,000 sentences through `vislat.load(...).embed` streams in chunks: the peak memory of the process
does not grow with the batch the way holding its latents would (issue: bounded memory for a batch of 100,000)."""
from vislat.reliability import stream_peak_rss

def test_embed_100k_streams():
    small, big = stream_peak_rss(2_000), stream_peak_rss(100_000)
    assert big["rows"] == 100_000
    all_latents_mb = 100_000 * 6 * 32 * 32 * 4 / 2**20            # 2,458 MB: what an unchunked latent batch alone would hold
    growth = big["peak_mb"] - small["peak_mb"]
    print(f"peak RSS {small['peak_mb']:.0f} MB (2,000 texts) -> {big['peak_mb']:.0f} MB (100,000 texts, {big['seconds']:.0f} s)")
    assert growth < 500 < all_latents_mb, growth
