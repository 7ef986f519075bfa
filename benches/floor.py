"""Work of one benchmark case, counted for the algorithm scikit-learn defines.

`work(case, shape, nnz)` returns a `Work`: the floating-point operations
of the matrix products, the bytes that must cross the memory bus, and the
random row gathers of the sparse products, for the same passes over X as
scikit-learn 1.9.1's MiniBatchNMF makes. The floor of a case
(`Work.floor`) is

    max(dense flops / GEMM peak + Σ gathers × time per gather,
        bytes / memory bandwidth)

all measured on the same machine in the same run (benches/suite.py,
`bench_runner --mode machine`). A sparse product with s stored values and
a dense operand of k columns is s gathers of a random k-wide row of that
operand (its 2·s·k flops are done at the rate of the gathers, not of a
GEMM), each at the measured rate for the operand's size: fits L2, fits
L3, or neither (the working set: the rows · k values of the gathered
operand — Hᵀ for X·Hᵀ and W·H at X's values, the batch's W for Wᵀ·X,
the randomized SVD's m×l and n×l blocks). Dense products and the gathers
are counted one after the other (they are separate phases of a step).

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


class Work:
    """A tally: dense flops, all flops (sparse included, for the report),
    bytes over the memory bus, and gathers {(row values, working-set bytes): count}."""

    def __init__(self, fb):
        self.fb = fb  # bytes per value
        self.flops = 0.0
        self.dense_flops = 0.0
        self.bytes = 0.0
        self.gathers = {}

    def dense(self, flops):
        self.flops += flops
        self.dense_flops += flops

    def sparse(self, s, k, operand_rows):
        """A sparse × dense product: s stored values, each gathering a
        k-wide row of an operand_rows × k array (2·s·k flops)."""
        self.flops += 2 * s * k
        key = (k, operand_rows * k * self.fb)
        self.gathers[key] = self.gathers.get(key, 0.0) + s

    def add(self, other, times=1):
        self.flops += times * other.flops
        self.dense_flops += times * other.dense_flops
        self.bytes += times * other.bytes
        for key, v in other.gathers.items():
            self.gathers[key] = self.gathers.get(key, 0.0) + times * v

    def n_gathers(self):
        return sum(self.gathers.values())

    def gather_seconds(self, gather):
        """Time of the gathers at the rates `bench_runner --mode machine`
        measured (its "gather" object)."""
        return sum(n * ns_per_gather(gather, k * self.fb, ws) * 1e-9
                   for (k, ws), n in self.gathers.items())

    def floor(self, gemm_peak, bandwidth, gather):
        return max(self.dense_flops / gemm_peak + self.gather_seconds(gather),
                   self.bytes / bandwidth)


def ns_per_gather(gather, row_bytes, ws_bytes):
    """Nanoseconds per gathered row of `row_bytes` from an array of
    `ws_bytes`: the rate of the smallest measured level whose working set
    holds it (L2, L3, memory: the better of 1 and 2 threads), linear in
    the row width between the measured widths (8 to 64 f64), a row below
    the narrowest counted as the narrowest (a cache line at least),
    proportional to the width above the widest."""
    levels = gather["levels"]
    if ws_bytes <= gather["l2_bytes"]:
        lev = levels["l2"]
    elif ws_bytes <= gather["l3_bytes"]:
        lev = levels["l3"]
    else:
        lev = levels["mem"]
    pts = sorted((int(w) * 8, min(v["ns_1t"], v["ns_2t"])) for w, v in lev["ns_per_row"].items())
    if row_bytes <= pts[0][0]:
        return pts[0][1]
    for (b0, t0), (b1, t1) in zip(pts, pts[1:]):
        if row_bytes <= b1:
            return t0 + (t1 - t0) * (row_bytes - b0) / (b1 - b0)
    return pts[-1][1] * row_bytes / pts[-1][0]


def _svd(n, m, s, k, xb, fb, sparse):
    """Randomized SVD of X (n×m, s stored values, xb bytes) for NNDSVD.

    scikit-learn: l = k + 10 columns (n_oversamples=10), q = 7 power
    iterations if k < 0.1·min(n, m) else 4, LU normalisation after each
    product of an iteration, a QR of the last sample, X transposed first
    when n < m. Products with X: one per half-iteration (2q) plus the last
    sample and B = Qᵀ·X: 2q + 2 products of 2·s·l flops, each a pass over X
    (sparse X: q + 1 of them gather rows of an m×l block, q + 1 rows of an
    n×l block). Small dense work with n' = max(n, m) rows and m' = min(n, m):
    LU of each n'×l or m'×l block (~rows·l² flops), QR of the n'×l sample
    (~4·n'·l² with forming Q), SVD of the l×m' B (~14·m'·l²), U = Q·Û
    (2·n'·l²).
    """
    w = Work(fb)
    l = k + 10
    q = 7 if k < 0.1 * min(n, m) else 4
    big, small = max(n, m), min(n, m)
    if sparse:
        for _ in range(q + 1):
            w.sparse(s, l, m)
            w.sparse(s, l, n)
    else:
        w.dense((2 * q + 2) * 2 * s * l)
    w.dense(q * (n + m) * l * l + 4 * big * l * l + 14 * small * l * l + 2 * big * l * l)
    # Each product reads X and its l-column operand and writes its result.
    w.bytes += (2 * q + 2) * (xb + (n + m) * l * fb)
    return w


def _w_update(w, r, m, s, k, beta, sparse):
    """Adds one multiplicative W update of r rows with H fixed to `w`
    (products with X_b·Hᵀ and H·Hᵀ excluded for beta = 2: see callers)."""
    if beta == 2:
        w.dense(2 * r * k * k)  # W·(H·Hᵀ)
    elif beta == 1:
        # (W·H at X's values), then (X / W·H)·Hᵀ; H's row sums are O(k·m).
        if sparse:
            w.sparse(s, k, m)
            w.sparse(s, k, m)
        else:
            w.dense(4 * r * m * k)
    elif sparse:
        # beta not in {1, 2}: W·H, ((W·H)^(β-2)∘X)·Hᵀ and (W·H)^(β-1)·Hᵀ, the
        # last over all r·m entries even for sparse X (scikit-learn's definition).
        w.sparse(s, k, m)
        w.sparse(s, k, m)
        w.dense(4 * r * m * k)
    else:
        w.dense(6 * r * m * k)


def _step(w, r, m, s, k, beta, sparse):
    """Adds one mini-batch step to `w`: W update, batch cost, H update."""
    if beta == 2:
        # X_b·Hᵀ (W update; reused by the cost), H·Hᵀ, W·(H·Hᵀ),
        # W_bᵀ·W_b (cost and H update), W_bᵀ·X_b, (WᵀW)·H.
        if sparse:
            w.sparse(s, k, m)  # X_b·Hᵀ: rows of Hᵀ
            w.sparse(s, k, r)  # W_bᵀ·X_b = (X_bᵀ·W_b)ᵀ: rows of W_b
        else:
            w.dense(4 * s * k)
        w.dense(2 * m * k * k + 2 * r * k * k + 2 * r * k * k + 2 * k * k * m)
        return
    _w_update(w, r, m, s, k, beta, sparse)
    if beta == 1:
        # W·H of the new W at X's values (cost and H update), Wᵀ·(X / W·H).
        if sparse:
            w.sparse(s, k, m)
            w.sparse(s, k, r)
        else:
            w.dense(4 * r * m * k)
        return
    # New W·H (all entries: the cost needs Σ(W·H)^β), Wᵀ·((W·H)^(β-2)∘X),
    # Wᵀ·(W·H)^(β-1).
    if sparse:
        w.sparse(s, k, m)
        w.sparse(s, k, r)
        w.dense(4 * r * m * k)
    else:
        w.dense(6 * r * m * k)


def _loss(w, n, m, s, k, beta, sparse):
    """Adds the final reconstruction_err_ over the whole X to `w`."""
    if not sparse:
        w.dense(2 * n * m * k)
    elif beta == 2:
        # ‖X‖² − 2·tr(Wᵀ·X·Hᵀ) + tr(WᵀW·HHᵀ).
        w.sparse(s, k, m)
        w.dense(2 * n * k * k + 2 * m * k * k)
    elif beta == 1:
        w.sparse(s, k, m)
    else:
        w.sparse(s, k, m)
        w.dense(2 * n * m * k)


def _solve_w(r, m, s, k, beta, sparse, iters, xb, fb):
    """scikit-learn's _solve_W: `iters` W updates over r rows, H fixed
    (transform, and every partial_fit call with fresh_restarts_max_iter=30);
    tol=0 never stops it early. For beta = 2, X·Hᵀ and H·Hᵀ do not change
    between iterations: counted once, and X read once; otherwise each
    iteration needs X again."""
    w = Work(fb)
    if beta == 2:
        if sparse:
            w.sparse(s, k, m)
        else:
            w.dense(2 * s * k)
        w.dense(2 * m * k * k)
        for _ in range(iters):
            _w_update(w, r, m, s, k, beta, sparse)
        w.bytes += xb + iters * 2 * r * k * fb
    else:
        for _ in range(iters):
            _w_update(w, r, m, s, k, beta, sparse)
        w.bytes += iters * (xb + 2 * r * k * fb)
    return w


def work(case, shape, nnz):
    """The `Work` of one timed call of `case` on X of `shape` with `nnz`
    stored values (n·m when dense)."""
    n, m = shape
    k, beta, sparse = case["k"], float(case["beta"]), case["sparse"]
    fb = 4 if case["dtype"] == "f32" else 8
    vb = fb + 4 if sparse else fb  # bytes per stored value
    xb = nnz * vb  # one pass over X
    mode = case["mode"]
    if mode == "init":
        # One pass to check X and take its mean (nndsvda's fill), the SVD.
        w = _svd(n, m, nnz, k, xb, fb, sparse)
        w.bytes += xb + (n + m) * k * fb
        return w
    if mode == "transform":
        # One pass to check X and take its mean (W's start), then _solve_W
        # with transform_max_iter = max_iter iterations.
        w = _solve_w(n, m, nnz, k, beta, sparse, case["epochs"], xb, fb)
        w.bytes += xb
        return w
    if mode == "partial-fit":
        # The stream: each call checks its chunk, solves W with 30 W
        # updates, takes the batch cost and updates H; the first call also
        # initialises from its chunk (randomized SVD).
        c = min(case["chunk"], n)
        calls = math.ceil(n / c) * case["passes"]
        sc, cb = nnz * c / n, xb * c / n  # stored values, bytes of a chunk
        w = _svd(c, m, sc, k, cb, fb, sparse)
        call = _solve_w(c, m, sc, k, beta, sparse, 30, cb, fb)
        # The step without its W update (done by _solve_W) and, for
        # beta = 2, without X·Hᵀ and H·Hᵀ (counted in _solve_W).
        st = Work(fb)
        _step(st, c, m, sc, k, beta, sparse)
        wu = Work(fb)
        _w_update(wu, c, m, sc, k, beta, sparse)
        if beta == 2:
            if sparse:
                wu.sparse(sc, k, m)
            else:
                wu.dense(2 * sc * k)
            wu.dense(2 * m * k * k)
        call.add(st)
        call.add(wu, times=-1)
        call.bytes += cb + 6 * k * m * fb
        w.add(call, times=calls)
        return w
    # fit: check + mean pass, SVD, max_iter passes of mini-batch steps, the
    # final loss pass.
    b_rows = min(case["batch"], n)
    steps_per_pass = math.ceil(n / b_rows)
    w = _svd(n, m, nnz, k, xb, fb, sparse)
    for i in range(steps_per_pass):
        r = min(b_rows, n - i * b_rows)
        st = Work(fb)
        _step(st, r, m, nnz * r / n, k, beta, sparse)
        w.add(st, times=case["epochs"])
    steps = case["epochs"] * steps_per_pass
    w.bytes += xb + case["epochs"] * xb + steps * 6 * k * m * fb + case["epochs"] * 2 * n * k * fb
    _loss(w, n, m, nnz, k, beta, sparse)
    w.bytes += xb + (n + m) * k * fb
    return w
