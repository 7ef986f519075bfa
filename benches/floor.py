"""Work of one benchmark case, counted for the algorithm scikit-learn defines.

`work(case, shape, nnz)` returns (flops, bytes): the floating-point
operations of the matrix products and the bytes that must cross the memory
bus, for the same passes over X as scikit-learn 1.9.1's MiniBatchNMF makes.
The floor of a case is max(flops / GEMM peak, bytes / memory bandwidth),
both measured on the same machine in the same run (benches/suite.py).

Conventions (the derivation is written out in BENCHMARKS.md):
* a dense product of (a×b)·(b×c) costs 2·a·b·c flops; a sparse one with
  s stored values times a dense matrix of k columns costs 2·s·k;
* elementwise work (divisions, powers, logs) is not counted: the floor is a
  lower bound, and these are O(values) next to O(values·k) products;
* a product needed twice with the same operands is counted once (e.g.
  X_b·Hᵀ for the W update and the Frobenius batch cost; W·H of the updated
  W for the batch cost and the H update);
* bytes: X is read once per pass it must make (a mini-batch is read once
  per step, however many products use it: it may stay in cache); the k×m
  arrays H, A, B (the H statistics) are read and written once per step
  (H read; A, B read and written; H written: 6·k·m values); W's rows of the
  batch are read and written once per step; the randomized SVD's n×l and
  m×l blocks are read and written once per product.
Sparse X: s = nnz stored values, each value plus a 4-byte column index (the
least a CSR with int32 indices needs). Dense X: s = n·m values.
"""

import math


def _svd(n, m, s, k, xb, fb):
    """Randomized SVD of X (n×m, s stored values, xb bytes) for NNDSVD.

    scikit-learn: l = k + 10 columns (n_oversamples=10), q = 7 power
    iterations if k < 0.1·min(n, m) else 4, LU normalisation after each
    product of an iteration, a QR of the last sample, X transposed first
    when n < m. Products with X: one per half-iteration (2q) plus the last
    sample and B = Qᵀ·X: 2q + 2 products of 2·s·l flops, each a pass over X.
    Small dense work with n' = max(n, m) rows and m' = min(n, m):
    LU of each n'×l or m'×l block (~rows·l² flops), QR of the n'×l sample
    (~4·n'·l² with forming Q), SVD of the l×m' B (~14·m'·l²), U = Q·Û
    (2·n'·l²).
    """
    l = k + 10
    q = 7 if k < 0.1 * min(n, m) else 4
    big, small = max(n, m), min(n, m)
    flops = (2 * q + 2) * 2 * s * l
    flops += q * (n + m) * l * l + 4 * big * l * l + 14 * small * l * l + 2 * big * l * l
    # Each product reads X and its l-column operand and writes its result.
    bytes_ = (2 * q + 2) * (xb + (n + m) * l * fb)
    return flops, bytes_


def _w_update(r, m, s, k, beta, sparse):
    """Flops of one multiplicative W update of r rows with H fixed
    (products with X_b·Hᵀ and H·Hᵀ excluded for beta = 2: see callers)."""
    if beta == 2:
        return 2 * r * k * k  # W·(H·Hᵀ)
    if beta == 1:
        # (W·H at X's values), then (X / W·H)·Hᵀ; H's row sums are O(k·m).
        return (2 * s * k + 2 * s * k) if sparse else 4 * r * m * k
    # beta not in {1, 2}: W·H, ((W·H)^(β-2)∘X)·Hᵀ and (W·H)^(β-1)·Hᵀ, the
    # last over all r·m entries even for sparse X (scikit-learn's definition).
    return (4 * s * k + 4 * r * m * k) if sparse else 6 * r * m * k


def _step(r, m, s, k, beta, sparse):
    """Flops of one mini-batch step: W update, batch cost, H update."""
    if beta == 2:
        # X_b·Hᵀ (W update; reused by the cost), H·Hᵀ, W·(H·Hᵀ),
        # W_bᵀ·W_b (cost and H update), W_bᵀ·X_b, (WᵀW)·H.
        return 2 * s * k + 2 * m * k * k + 2 * r * k * k + 2 * r * k * k + 2 * s * k + 2 * k * k * m
    f = _w_update(r, m, s, k, beta, sparse)
    if beta == 1:
        # W·H of the new W at X's values (cost and H update), Wᵀ·(X / W·H).
        return f + ((2 * s * k + 2 * s * k) if sparse else 4 * r * m * k)
    # New W·H (all entries: the cost needs Σ(W·H)^β), Wᵀ·((W·H)^(β-2)∘X),
    # Wᵀ·(W·H)^(β-1).
    return f + ((4 * s * k + 4 * r * m * k) if sparse else 6 * r * m * k)


def _loss(n, m, s, k, beta, sparse):
    """Flops of the final reconstruction_err_ over the whole X."""
    if beta == 2:
        # Dense: W·H. Sparse: ‖X‖² − 2·tr(Wᵀ·X·Hᵀ) + tr(WᵀW·HHᵀ).
        return (2 * s * k + 2 * n * k * k + 2 * m * k * k) if sparse else 2 * n * m * k
    if beta == 1:
        return 2 * s * k if sparse else 2 * n * m * k
    return (2 * s * k + 2 * n * m * k) if sparse else 2 * n * m * k


def _solve_w(r, m, s, k, beta, sparse, iters, xb, fb):
    """scikit-learn's _solve_W: `iters` W updates over r rows, H fixed
    (transform, and every partial_fit call with fresh_restarts_max_iter=30);
    tol=0 never stops it early. For beta = 2, X·Hᵀ and H·Hᵀ do not change
    between iterations: counted once, and X read once; otherwise each
    iteration needs X again."""
    if beta == 2:
        flops = 2 * s * k + 2 * m * k * k + iters * _w_update(r, m, s, k, beta, sparse)
        bytes_ = xb + iters * 2 * r * k * fb
    else:
        flops = iters * _w_update(r, m, s, k, beta, sparse)
        bytes_ = iters * (xb + 2 * r * k * fb)
    return flops, bytes_


def work(case, shape, nnz):
    """(flops, bytes) of one timed call of `case` on X of `shape` with
    `nnz` stored values (n·m when dense)."""
    n, m = shape
    k, beta, sparse = case["k"], float(case["beta"]), case["sparse"]
    fb = 4 if case["dtype"] == "f32" else 8
    vb = fb + 4 if sparse else fb  # bytes per stored value
    xb = nnz * vb  # one pass over X
    mode = case["mode"]
    if mode == "init":
        # One pass to check X and take its mean (nndsvda's fill), the SVD.
        f, b = _svd(n, m, nnz, k, xb, fb)
        return f, b + xb + (n + m) * k * fb
    if mode == "transform":
        # One pass to check X and take its mean (W's start), then _solve_W
        # with transform_max_iter = max_iter iterations.
        f, b = _solve_w(n, m, nnz, k, beta, sparse, case["epochs"], xb, fb)
        return f, b + xb
    if mode == "partial-fit":
        # The stream: each call checks its chunk, solves W with 30 W
        # updates, takes the batch cost and updates H; the first call also
        # initialises from its chunk (randomized SVD).
        c = min(case["chunk"], n)
        calls = math.ceil(n / c) * case["passes"]
        sc, cb = nnz * c / n, xb * c / n  # stored values, bytes of a chunk
        f, b = _svd(c, m, sc, k, cb, fb)
        for _ in range(calls):
            fw, bw = _solve_w(c, m, sc, k, beta, sparse, 30, cb, fb)
            fs = _step(c, m, sc, k, beta, sparse) - _w_update(c, m, sc, k, beta, sparse)
            if beta == 2:
                fs -= 2 * sc * k + 2 * m * k * k  # X·Hᵀ, H·Hᵀ: in _solve_w
            f += fw + fs
            b += bw + cb + 6 * k * m * fb
        return f, b
    # fit: check + mean pass, SVD, max_iter passes of mini-batch steps, the
    # final loss pass.
    b_rows = min(case["batch"], n)
    steps_per_pass = math.ceil(n / b_rows)
    f, b = _svd(n, m, nnz, k, xb, fb)
    for i in range(steps_per_pass):
        r = min(b_rows, n - i * b_rows)
        s = nnz * r / n
        f += case["epochs"] * _step(r, m, s, k, beta, sparse)
    steps = case["epochs"] * steps_per_pass
    b += xb + case["epochs"] * xb + steps * 6 * k * m * fb + case["epochs"] * 2 * n * k * fb
    f += _loss(n, m, nnz, k, beta, sparse)
    b += xb + (n + m) * k * fb
    return f, b
