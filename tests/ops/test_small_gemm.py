"""The register-tile kernels of csrc/small_gemm*.c: each one this CPU runs (AVX-512, AVX2)
against float64 and against OpenBLAS ("none"), on shapes that end inside a tile in every
direction (rows past the 6- and 14-row tiles, columns past 8, 16 and 32, k past the
384-step blocks), through matmul (cnn_gemm) and the LSTM/GRU ops' per-step products; and
the two tile kernels give bit-identical results (the same FMA chains), where both run."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest

import cnn
from cnn import _C
from op_harness import forward, vjp

# The tile kernels this CPU runs: an AVX-512 CPU runs the AVX2 one too.
TILE_KERNELS = {"avx512": ["avx512", "avx2"], "avx2": ["avx2"], "none": []}[
    cnn.config()["small_gemm_kernel"]]


@pytest.fixture
def kernel():
    """Sets the kernel for one test and restores the CPU's best afterwards."""
    yield _C.select_small_gemm
    _C.select_small_gemm("auto")


def test_config_names_the_kernel_and_select_refuses_what_the_cpu_lacks(kernel):
    best = cnn.config()["small_gemm_kernel"]
    assert best in ("avx512", "avx2", "none")
    assert kernel("none") == "none" and cnn.config()["small_gemm_kernel"] == "none"
    with pytest.raises(ValueError, match="does not run on this CPU"):
        kernel("sse9")
    if best != "avx512":
        with pytest.raises(ValueError, match="avx512"):
            kernel("avx512")
    assert kernel("auto") == best


# (m, k, n): matmul takes the tile kernel for n >= 16 and up to 24M multiply-adds.
MATMUL_SHAPES = [(1, 1, 16), (5, 7, 17), (6, 64, 31), (7, 383, 32), (13, 384, 33),
                 (14, 385, 48), (15, 800, 100), (64, 64, 256), (29, 1000, 23)]


def matmul_all(a, b, g):
    return [forward("matmul", [a, b])] + list(vjp("matmul", [a, b], g))


@pytest.mark.parametrize("name", TILE_KERNELS + ["none"])
@pytest.mark.parametrize("m,k,n", MATMUL_SHAPES)
def test_matmul_on_each_kernel_matches_float64(kernel, name, m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    g = rng.standard_normal((m, n)).astype(np.float32)
    kernel(name)
    y, da, db = matmul_all(a, b, g)
    a64, b64, g64 = (v.astype(np.float64) for v in (a, b, g))
    tol = 1e-5 * np.sqrt(max(k, m))
    np.testing.assert_allclose(y, a64 @ b64, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(da, g64 @ b64.T, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(db, a64.T @ g64, rtol=1e-4, atol=tol)


def lstm_and_gru(u, t=5, seed=0):
    """Forward and all gradients of an LSTM and a GRU (reset after, then before) with u
    units over t steps: their per-step products are (8, 4u or 3u, u) and (8, u, 4u or 3u);
    the LSTM's recurrent-kernel gradient sums t - 1 steps of 8 samples in one pass."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, t, 3)).astype(np.float32)
    out = []
    for op, gates, flags in (("lstm", 4, 1), ("gru", 3, 1), ("gru", 3, 1 | 32)):
        w = (rng.standard_normal((3, gates * u)) * 0.5).astype(np.float32)
        r = (rng.standard_normal((u, gates * u)) * 0.5).astype(np.float32)
        b = (rng.standard_normal((gates * u,) if op == "lstm" or flags & 32 else (2, gates * u))
             * 0.5).astype(np.float32)
        ins, ints = [x, w, r, b], [1, 0, 1, flags]  # go_backwards, tanh, sigmoid, bias
        y = forward(op, ins, ints=ints)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        out += [y] + list(vjp(op, ins, dy, ints=ints))
    return out


@pytest.mark.parametrize("name", TILE_KERNELS)
@pytest.mark.parametrize("u,t", [(1, 5), (3, 5), (5, 2), (9, 5), (17, 5), (3, 100), (2, 400)])
def test_recurrent_products_on_each_kernel_match_openblas(kernel, name, u, t):
    """t = 100 and 400: the kernel gradient's chains of three samples (99 steps each) and
    of one sample in 384-step blocks."""
    kernel("none")
    want = lstm_and_gru(u, t)
    kernel(name)
    got = lstm_and_gru(u, t)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(len(TILE_KERNELS) < 2, reason="needs a CPU with AVX-512 (both tile kernels)")
@pytest.mark.parametrize("u", [3, 17, 64])
def test_avx2_and_avx512_tiles_are_bit_identical(kernel, u):
    rng = np.random.default_rng(u)
    a = rng.standard_normal((37, 900)).astype(np.float32)
    b = rng.standard_normal((900, 70)).astype(np.float32)
    g = rng.standard_normal((37, 70)).astype(np.float32)
    results = {}
    for name in TILE_KERNELS:
        kernel(name)
        results[name] = matmul_all(a, b, g) + lstm_and_gru(u)
    for x, y in zip(results["avx512"], results["avx2"]):
        np.testing.assert_array_equal(x, y)
