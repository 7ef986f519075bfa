"""Time to error: how fast each method gets to a good factorization.

    python benches/time_to_error.py [--quick] [--write BENCHMARKS.md] [--rounds 3]

`make bench` and `make bench-tte` run it with the bench venv (target/ffi-venv,
matplotlib added) and write its section of BENCHMARKS.md and the PNG beside
it (time_to_error.png); `make bench-smoke` runs `--quick` (tests/data/digits,
one round, nothing written but target/tte-smoke.png).

For each data set (Fashion-MNIST 20000×784, k=10; the FOLDOC TF-IDF, k=20),
from init="random", random_state=0, tol=0, every method gives an
error-against-time curve: points (i, seconds, ‖X − W·H‖_F) after i passes
over the data, W the method's own W of the training rows (fit_transform's W).
Methods, one process per run, alternating, `--rounds` rounds:

  NMF cd        scikit-learn NMF(solver="cd")         benches/tte_sk_runner.py
  ours cd       our MiniBatchNMF, solver="cd", its defaults  benches/runner.rs --mode curve
  ours mu       our MiniBatchNMF (scikit-learn's algorithm)  benches/runner.rs --mode curve
  MiniBatchNMF  scikit-learn MiniBatchNMF             benches/tte_sk_runner.py
  NMF mu        scikit-learn NMF(solver="mu")         benches/tte_sk_runner.py
  RcppML        RcppML::nmf, 2 threads                benches/rcppml_runner.R

How each runner takes its curve is in its own docstring: scikit-learn's in
one fit (its per-iteration function wrapped; the error computed in the
wrapper, its time subtracted); ours and RcppML's by fits of exactly i passes
at chosen i (ours: the same fit stopped by the observer at the end of pass
i; RcppML: maxit = i), the i chosen by a ×1.25 ladder and bisections to the
first pass reaching each reference error and the last pass ending within
each budget. A point's time is the minimum over the rounds (the work is
fixed; load only adds time); the errors of a point are the same in every
round (checked).

The reference errors are NMF cd's own errors after N iterations (N = 20,
and 100 for Fashion) in the same run, and NMF cd's time for N iterations is
what the speed-ups are measured against (the targets: ours cd on
Fashion N = 20 ≥ 6×, N = 100 ≥ 8×, FOLDOC N = 20 ≥ 3×). Reported per
method: the time to reach each reference error (the first point at or
below it), and the lowest error reached within each time budget.

Per-epoch floor of ours cd (target: each epoch within 2× of it): an
epoch's time is the slope of ours cd's curve between its first and last
points (the start of the fit, the exact statistics of the initial W, is
left out); its floor is max(flops / GEMM peak, bytes / memory bandwidth)
with the flops of two n·m·k products (X·Hᵀ for W's sweeps, Wᵀ·X for B:
2·s·k each, s = n·m dense or nnz sparse) and the bytes of one pass over X
(benches/floor.py's conventions), the rates measured by
`bench_runner --mode machine` at the start and the end of the run (the
better of the two, as benches/suite.py takes them).

Checks (the run fails otherwise): ours mu and scikit-learn's MiniBatchNMF
run the same algorithm, so their errors after every common pass agree to
1e-9 relative (this ties our observer-based curve to scikit-learn's
wrapper-based one); NMF cd reaches every N; each method gives points.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import suite  # noqa: E402  (data preparation, machine description)
import floor  # noqa: E402  (the floor's conventions)

BEGIN, END = "<!-- tte:generated:begin -->", "<!-- tte:generated:end -->"
F64_RTOL = 1e-9

# The targets: (data set, N) -> speed-up of ours cd over NMF cd's own N iterations.
EXT = {}  # the extension parameters our runner reported, per method

TARGETS = {("Fashion", 20): 6.0, ("Fashion", 100): 8.0, ("FOLDOC", 20): 3.0, ("large TF-IDF", 20): 3.0}

# ours cd's settings per data set (docs: which batch_size to use with cd).
# Dense or narrow X (m ≲ batch_size): scikit-learn's batch_size and the cd
# defaults. Wide sparse X (m ≫ batch_size, TF-IDF): each H update sweeps
# all m columns (m·k² per sweep) while the batch's own work is only its
# stored values, so fewer, larger steps with fewer H sweeps each: about 8
# batches per epoch, cd_w_sweeps=5 or 6, cd_h_sweeps=2 (measurements in
# BENCHMARKS.md).
# FOLDOC: one more W sweep (cheap: 2048·k² per batch against the H sweeps'
# m·k²) reaches NMF cd's 20-iteration error 106.558 in 5 passes instead of
# 6 (pass-5 errors, batch 2048, w/h sweeps: 5/2 106.561, 6/2 106.549,
# 7/2 106.573, 8/2 106.610, 5/3 106.551, 6/3 106.572; batch 1536, 1792,
# 2560 at 5/2: 106.609, 106.575, 106.621). The pass-5 error moves by
# ±0.03 with these settings, so the gain is this data set's, not a rule:
# on the large TF-IDF 5/2 reaches 350.5215 at pass 4 (350.5056) and 6/2
# only after pass 5 (pass 4: 350.5674, pass 5: 350.5222), so that one keeps
# 5/2.
FOLDOC_CD = dict(batch=2048, set=["cd_w_sweeps=6", "cd_h_sweeps=2"])
# The large TF-IDF (126240 rows): batch 2048 makes 62 H updates per epoch,
# each over all 82875 columns (3.5 s per epoch). Batch 16384 (8 batches, as
# FOLDOC's 2048 makes 6) reaches 350.5215 at pass 4 too (pass 3: 350.529,
# pass 4: 350.508) at a quarter of the epoch. Rule of thumb for wide sparse
# X: a batch_size of about n_samples / 8.
LARGE_TFIDF_CD = dict(batch=16384, set=["cd_w_sweeps=5", "cd_h_sweeps=2"])


def datasets(quick):
    if quick:
        return [dict(name="digits", key="quick_digits", k=10, ns=[20, 100],
                     budgets=[0.005, 0.01, 0.03, 0.1], max_seconds=0.15)]
    return [
        dict(name="Fashion", key="fashion", k=10, ns=[20, 100],
             budgets=[0.1, 0.25, 0.5, 1.0, 2.0], max_seconds=2.5),
        dict(name="FOLDOC", key="sparse_foldoc", k=20, ns=[20],
             budgets=[0.1, 0.25, 0.5, 1.0, 2.0, 4.0], max_seconds=5.0, cd=FOLDOC_CD),
        # Debian's dict-gcide (`make large-tfidf`, target/bench-data/large_tfidf.npz):
        # run when benches/suite.py prepares it (skipped with a note otherwise).
        dict(name="large TF-IDF", key="sparse_large_tfidf", k=20, ns=[20],
             budgets=[0.5, 1.0, 2.5, 5.0, 10.0], max_seconds=20.0, cd=LARGE_TFIDF_CD),
    ]


def methods(args, d=None):
    per = (d or {}).get("cd", {})
    cd_set = ["solver=cd"] + per.get("set", []) + [s for s in args.cd_set]
    cd_batch = args.cd_batch or per.get("batch", 1024)
    before = [dict(name="ours cd (before)", kind="ours", set=cd_set, batch=cd_batch, runner=args.before_runner)] \
        if args.before_runner else []
    every = [
        dict(name="NMF cd", kind="sk", method="nmf-cd"),
        dict(name="ours cd", kind="ours", set=cd_set, batch=cd_batch),
        *before,
        dict(name="ours mu", kind="ours", set=[], batch=1024),
        dict(name="MiniBatchNMF", kind="sk", method="minibatch", batch=1024),
        dict(name="NMF mu", kind="sk", method="nmf-mu"),
        dict(name="RcppML", kind="r"),
    ]
    if not args.methods:
        return every
    keep = {n.strip() for n in args.methods.split(",")} | {"NMF cd"}  # NMF cd gives the references
    return [m for m in every if m["name"] in keep]


def describe(m, ext=None):
    if m["kind"] == "ours":
        if ext:  # as the runner reported them: the settings given and the defaults of the others
            extra = ", ".join(f"{k}={v}" for k, v in ext.items() if k == "solver" or ext.get("solver") == "cd")
        else:
            extra = ", ".join(s for s in m["set"]) or "solver=mu"
        return f"minibatchnmf MiniBatchNMF, {extra}, batch_size={m['batch']}"
    if m["kind"] == "sk":
        return {"nmf-cd": 'scikit-learn NMF(solver="cd")', "nmf-mu": 'scikit-learn NMF(solver="mu")',
                "minibatch": f"scikit-learn MiniBatchNMF, batch_size={m.get('batch')}"}[m["method"]]
    return "RcppML::nmf, tol=1e-12, seed=1, 2 threads"


# --- data -----------------------------------------------------------------------

def write_rbin(path, x):
    """X for benches/rcppml_runner.R: doubles [kind, n, m, nnz] then the dense
    matrix column by column, or CSC p, i (0-based), x."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        if sp.issparse(x):
            c = sp.csc_matrix(x)
            c.sort_indices()
            np.array([1, c.shape[0], c.shape[1], c.nnz], dtype="<f8").tofile(f)
            for a in (c.indptr, c.indices, c.data):
                a.astype("<f8").tofile(f)
        else:
            np.array([0, x.shape[0], x.shape[1], x.size], dtype="<f8").tofile(f)
            np.asarray(x, dtype="<f8").T.copy().tofile(f)
    os.replace(tmp, path)


def rbin_for(path):
    out = os.path.splitext(path)[0] + ".rbin"
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(path):
        x = sp.load_npz(path) if path.endswith(".npz") else np.load(path)
        write_rbin(out, x)
    return out


# --- running ----------------------------------------------------------------------

class Unavailable(Exception):
    pass


def run_json(cmd, may_be_unavailable=False):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if may_be_unavailable and "unknown parameter" in proc.stderr:
            raise Unavailable(proc.stderr.strip())
        sys.exit(f"benchmark process failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def csv(vals):
    return ",".join(repr(float(v)) for v in vals) or "-"


def command(m, d, path, args, refs, threads=None):
    s = d["max_seconds"]
    if m["kind"] == "ours":
        cmd = [m.get("runner") or args.runner, "--mode", "curve", "--x", path, "--k", str(d["k"]), "--init", "random",
               "--batch", str(m["batch"]), "--max-seconds", repr(s), "--budgets", csv(d["budgets"])]
        if refs:
            cmd += ["--targets", csv(refs)]
        for kv in m["set"]:
            cmd += ["--set", kv]
        return cmd
    if m["kind"] == "sk":
        cmd = [sys.executable, os.path.join(HERE, "tte_sk_runner.py"), "--method", m["method"], "--x", path,
               "--k", str(d["k"]), "--max-seconds", repr(s), "--blas-threads", str(threads)]
        if m["method"] == "nmf-cd":
            cmd += ["--min-iter", str(max(d["ns"]))]
        if "batch" in m:
            cmd += ["--batch", str(m["batch"])]
        return cmd
    return ["Rscript", os.path.join(HERE, "rcppml_runner.R"), rbin_for(path), str(d["k"]), repr(s),
            "100000", csv(refs), csv(d["budgets"]), "2"]


def rcppml_available():
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(RcppML))"],
                          capture_output=True).returncode == 0


def last_common_time(a, b):
    """Times of two curves of the same method at the largest pass both reached."""
    ia = {p[0]: p[1] for p in a}
    ib = {p[0]: p[1] for p in b}
    common = set(ia) & set(ib)
    i = max(common)
    return ia[i], ib[i]


def run_dataset(d, path, args, avail):
    """Runs every method `args.rounds` times; returns {method name: [runs]} and notes."""
    runs = {m["name"]: [] for m in methods(args, d)}
    threads = {}
    notes = []
    refs = []
    for rnd in range(args.rounds):
        for m in methods(args, d):
            if not avail.get(m["name"], True):
                continue
            if m["kind"] == "sk":
                settings = [threads[m["name"]]] if m["name"] in threads else (
                    [1] if args.quick else [1, 2])
                got = {t: run_json(command(m, d, path, args, refs, t)) for t in settings}
                if m["name"] not in threads:
                    if len(settings) == 2:
                        t1, t2 = last_common_time(got[1]["points"], got[2]["points"])
                        threads[m["name"]] = 1 if t1 <= t2 else 2
                    else:
                        threads[m["name"]] = settings[0]
                out = got[threads[m["name"]]]
            else:
                try:
                    out = run_json(command(m, d, path, args, refs), may_be_unavailable=True)
                except Unavailable as e:
                    avail[m["name"]] = False
                    notes.append(f"{m['name']}: not run — {e}")
                    print(f"  {m['name']}: not available ({e})", flush=True)
                    continue
            runs[m["name"]].append(out)
            if out.get("extension") and m["name"] not in EXT:  # the first data set's (the defaults)
                EXT[m["name"]] = out["extension"]
            if m["name"] == "NMF cd" and not refs:
                pts = {p[0]: p[2] for p in out["points"]}
                missing = [n for n in d["ns"] if n not in pts]
                if missing:
                    sys.exit(f"{d['name']}: NMF cd did not reach {missing} iterations")
                refs = [pts[n] for n in d["ns"]]
            pts = out["points"]
            print(f"  round {rnd + 1} {m['name']:13} {len(pts):4} points, last: pass {pts[-1][0]} "
                  f"at {pts[-1][1]:.3f} s, error {pts[-1][2]:.6g}", flush=True)
    return runs, threads, notes


def merge(outs):
    """{i: (seconds (min over rounds), error)}; the errors must agree across rounds."""
    merged, worst = {}, 0.0
    for out in outs:
        for i, s, e in out["points"]:
            if i in merged:
                s0, e0 = merged[i]
                worst = max(worst, abs(e - e0) / abs(e0))
                merged[i] = (min(s0, s), e0)
            else:
                merged[i] = (s, e)
    return dict(sorted(merged.items())), worst


def machine(args):
    """The machine's rates (benches/runner.rs --mode machine)."""
    cmd = [args.runner, "--mode", "machine"] + (
        ["--gemm-n", "512", "--stream-len", str(1 << 22)] if args.quick else [])
    return run_json(cmd)


def epoch_floor(shape, nnz, k, sparse, mach, dtype="f64"):
    """(floor seconds, flops, bytes) of one cd epoch: two n·m·k products
    and one pass over X."""
    fb = 4 if dtype == "f32" else 8
    flops = 2 * (2 * nnz * k)
    nbytes = nnz * (fb + 4 if sparse else fb)
    peak = max(mach[f"gemm_{dtype}_1t"], mach[f"gemm_{dtype}_2t"]) * 1e9
    bw = max(mach["bw_read_1t"], mach["bw_read_2t"], mach["bw_triad_1t"], mach["bw_triad_2t"]) * 1e9
    return max(flops / peak, nbytes / bw), flops, nbytes


def cd_settings(args, d):
    """(batch_size, cd_w_sweeps, cd_h_sweeps) of ours cd on data set d."""
    per = d.get("cd", {})
    opts = dict(cd_w_sweeps=10, cd_h_sweeps=5)  # the library's defaults
    for item in per.get("set", []) + list(args.cd_set):
        key, _, val = item.partition("=")
        if key in opts:
            opts[key] = int(val)
    return args.cd_batch or per.get("batch", 1024), opts["cd_w_sweeps"], opts["cd_h_sweeps"]


def algorithm_floor(shape, nnz, k, sparse, mach, batch, w_sweeps, h_sweeps, fb=8):
    """(floor seconds, Work) of one mini-batch cd epoch with the work the
    algorithm cannot avoid on this data, in benches/floor.py's conventions:
    X·Hᵀ and the statistic's ΔWᵀ·X (for sparse X: one gathered k-wide row
    of an m×k array per stored value each, at the measured gather rates);
    per batch, the H sweeps over all m columns (h_sweeps·2·m·k² flops),
    H·Hᵀ for the W sweeps (2·m·k²), the W sweeps (w_sweeps·2·b·k²), and
    H, A, B read and written (6·k·m values); X read once."""
    n, m = shape
    work = floor.Work(fb)
    if sparse:
        work.sparse(nnz, k, m)
        work.sparse(nnz, k, m)
        work.bytes += nnz * (fb + 4)
    else:
        work.dense(2 * 2 * n * m * k)
        work.bytes += n * m * fb
    batches = -(-n // batch)
    work.dense(batches * (h_sweeps + 1) * 2 * m * k * k + w_sweeps * 2 * n * k * k)
    work.bytes += batches * 6 * k * m * fb
    peak = max(mach["gemm_f64_1t"], mach["gemm_f64_2t"]) * 1e9
    bw = max(mach["bw_read_1t"], mach["bw_read_2t"], mach["bw_triad_1t"], mach["bw_triad_2t"]) * 1e9
    return work.floor(peak, bw, mach["gather"]), work


def epoch_time(curve):
    """Seconds per pass: the slope between the curve's first and last points."""
    (i0, (s0, _)), (i1, (s1, _)) = next(iter(curve.items())), list(curve.items())[-1]
    return (s1 - s0) / (i1 - i0) if i1 > i0 else None


def time_to(curve, err):
    hits = [(s, i) for i, (s, e) in curve.items() if e <= err]
    return min(hits) if hits else None


def within(curve, budget):
    vals = [(e, i) for i, (s, e) in curve.items() if s <= budget]
    return min(vals) if vals else None


def check_sk_rerun(d, path, curves, failures):
    """--quick: scikit-learn's curve from one wrapped fit equals fits rerun with
    max_iter = i (the O(N²) way), at i = 20 (or the last pass recorded)."""
    import warnings
    from sklearn.decomposition import NMF, MiniBatchNMF
    warnings.simplefilter("ignore")
    x = np.load(path)
    worst = 0.0
    for name, make in (
        ("NMF cd", lambda i: NMF(d["k"], init="random", solver="cd", max_iter=i, tol=0.0, random_state=0)),
        ("NMF mu", lambda i: NMF(d["k"], init="random", solver="mu", max_iter=i, tol=0.0, random_state=0)),
        ("MiniBatchNMF", lambda i: MiniBatchNMF(d["k"], init="random", batch_size=1024, max_iter=i, tol=0.0,
                                                max_no_improvement=None, random_state=0)),
    ):
        i = min(20, max(curves[name]))
        est = make(i)
        est.fit_transform(x)
        worst = max(worst, abs(est.reconstruction_err_ - curves[name][i][1]) / est.reconstruction_err_)
    if worst > F64_RTOL:
        failures.append(f"scikit-learn's wrapped curves differ from reruns by {worst:.2e}")
    return f"scikit-learn's curves = fits rerun with max_iter = i: largest relative difference {worst:.1e}"


# --- output -----------------------------------------------------------------------

def fmt_t(s):
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def report(d, curves, refs, ref_times, threads, desc):
    """The markdown table of one data set and the lines of the targets."""
    ns = d["ns"]
    head = ["method"] + [f"time to {refs[n]:.1f} (NMF cd, {n} it.) [passes]" for n in ns] + \
        [f"speed-up vs NMF cd's {n} it." for n in ns] + [f"error in {b:g} s" for b in d["budgets"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, curve in curves.items():
        if curve is None:
            lines.append(f"| {name} | " + " | ".join(["not run"] * (len(head) - 1)) + " |")
            continue
        row = [name + (f" [BLAS {threads[name]}]" if name in threads else "")]
        ttt = {n: time_to(curve, refs[n]) for n in ns}
        for n in ns:
            row.append(f"{fmt_t(ttt[n][0])} [{ttt[n][1]}]" if ttt[n] else
                       f"not reached in {d['max_seconds']:g} s")
        for n in ns:
            row.append(f"{ref_times[n] / ttt[n][0]:.2f}×" if ttt[n] else "—")
        for b in d["budgets"]:
            w = within(curve, b)
            row.append(f"{w[0]:.1f} [{w[1]}]" if w else "—")
        lines.append("| " + " | ".join(row) + " |")
    tlines = []
    for n in ns:
        goal = TARGETS.get((d["name"], n))
        if goal is None:
            continue
        cd = curves.get("ours cd")
        t = time_to(cd, refs[n]) if cd else None
        if cd is None:
            verdict = "not measured (ours cd did not run)"
        elif t is None:
            verdict = f"**not met** (not reached in {d['max_seconds']:g} s)"
        else:
            x = ref_times[n] / t[0]
            verdict = f"{'**met**' if x >= goal else '**not met**'}: {x:.2f}× ({fmt_t(t[0])} s vs {fmt_t(ref_times[n])} s)"
        tlines.append(f"- {d['name']}, N = {n}: ours cd ≥ {goal:g}× faster than NMF cd's own {n} iterations "
                      f"to error {refs[n]:.2f} — {verdict}")
    return "\n".join(lines), tlines


COLORS = {"ours cd": "#d62728", "ours cd (before)": "#e377c2", "ours mu": "#ff7f0e", "MiniBatchNMF": "#1f77b4", "NMF cd": "#2ca02c",
          "NMF mu": "#9467bd", "RcppML": "#8c564b"}


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 5.0), squeeze=False)
    for ax, (d, curves, refs, _) in zip(axes[0], results):
        lo, top, last = math.inf, 0.0, 0.0
        for name, curve in curves.items():
            if not curve:
                continue
            xs = [s for s, _ in curve.values()]
            ys = [e for _, e in curve.values()]
            # The points in pass order (each time the best of the rounds).
            ax.plot(xs, ys, marker="o", ms=2.5, lw=1.4, label=name, color=COLORS.get(name))
            lo, top, last = min(lo, min(ys)), max(top, max(ys)), max(last, ys[-1])
        # Up to 8 % above the first reference error, and at least up to where
        # every curve ends (so that each method shows).
        hi = min(top, max(refs[d["ns"][0]] * 1.08, last * 1.01))
        for n in d["ns"]:
            ax.axhline(refs[n], color="black", ls="--", lw=0.9)
            ax.text(0.01, refs[n], f"NMF cd after {n} iterations: {refs[n]:.1f}",
                    transform=ax.get_yaxis_transform(), ha="left", va="bottom", fontsize=8)
        for b in d["budgets"]:
            ax.axvline(b, color="gray", ls=":", lw=0.7)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.02 * (hi - lo))
        ax.set_xlabel("seconds from the start of the fit (log scale; dotted: the budgets of the table)")
        ax.set_ylabel("‖X − W·H‖_F  (W of the training rows)")
        n, m = d["shape"]
        ax.set_title(f"{d['name']} {n}×{m}, k = {d['k']}, random init: error against time")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_md(path, text):
    with open(path) as f:
        old = f.read()
    if BEGIN not in old or END not in old:
        sys.exit(f"{path}: markers {BEGIN} / {END} not found")
    new = old[:old.index(BEGIN) + len(BEGIN)] + "\n" + text + "\n" + old[old.index(END):]
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tests/data/digits only, one round, short budgets")
    ap.add_argument("--rounds", type=int, default=None, help="alternations (default 3, --quick 1)")
    ap.add_argument("--runner", default=os.path.join(suite.TARGET, "release", "examples", "bench_runner"))
    ap.add_argument("--write", metavar="MD", help="write the section into this file between its markers")
    ap.add_argument("--png", default=None, help="the plot (default: time_to_error.png beside --write, "
                    "else target/tte-smoke.png)")
    ap.add_argument("--only", help="run only the data sets whose name contains this text")
    ap.add_argument("--methods", help="comma-separated method names to run (NMF cd always runs: it gives "
                    "the reference errors), e.g. 'ours cd,ours mu'")
    ap.add_argument("--cd-batch", type=int, default=None, help="batch_size of ours cd (default: the data "
                    "set's recommended one, 1024 or 2048 for wide sparse X)")
    ap.add_argument("--before-runner", help="also run ours cd with this bench_runner build (a before/after "
                    "comparison in one run: method 'ours cd (before)')")
    ap.add_argument("--cd-set", action="append", default=[], metavar="NAME=VALUE",
                    help="more parameters for ours cd (e.g. cd_w_sweeps=2); repeatable")
    ap.add_argument("--command", default="make bench-tte", help="the command named in the output")
    ap.add_argument("--reuse", metavar="JSON", help="no runs: the report and plot from the runs saved in this "
                    "file (every run saves them in target/tte-last.json)")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    start, load0 = time.time(), os.getloadavg()

    files = suite.prepare(args.quick)
    avail = {}
    if not args.reuse and not rcppml_available():
        avail["RcppML"] = False
        msg = "RcppML not installed (Debian's r-cran-rcppml; `make bench` installs it): skipped"
        if not args.quick:
            sys.exit(msg)
        print(msg, flush=True)

    mach = None if args.reuse else machine(args)
    results, md_parts, failures, all_targets, floor_lines = [], [], [], [], []
    raw, raw_path = {}, os.path.join(suite.TARGET, "tte-smoke.json" if args.quick else "tte-last.json")
    for d in datasets(args.quick):
        if args.only and args.only not in d["name"]:
            continue
        path = files.get(d["key"])
        if path is None or not os.path.exists(path):
            msg = f"- {d['name']}: no data ({d['key']}; `make large-tfidf` writes it): not run"
            print(msg, flush=True)
            all_targets.append(msg)
            continue
        print(f"== {d['name']} (k={d['k']})", flush=True)
        if args.reuse:
            with open(args.reuse) as f:
                runs, threads, notes = json.load(f)[d["name"]]
            for name, rs in runs.items():
                if rs and rs[0].get("extension") and name not in EXT:
                    EXT[name] = rs[0]["extension"]
        else:
            runs, threads, notes = run_dataset(d, path, args, avail)
            raw[d["name"]] = [runs, threads, notes]
            with open(raw_path, "w") as f:
                json.dump(raw, f)
        curves = {}
        for m in methods(args, d):
            if not runs[m["name"]]:
                curves[m["name"]] = None
                continue
            curves[m["name"]], worst = merge(runs[m["name"]])
            if worst > F64_RTOL:
                failures.append(f"{d['name']} {m['name']}: errors differ across rounds by {worst:.2e} relative")
        any_out = next(o for rs in runs.values() for o in rs)
        d["shape"] = tuple(any_out["shape"])
        d["nnz"] = any_out.get("nnz")
        nmf_cd = curves["NMF cd"]
        refs = {n: nmf_cd[n][1] for n in d["ns"]}
        ref_times = {n: nmf_cd[n][0] for n in d["ns"]}
        # ours mu and scikit-learn's MiniBatchNMF: the same algorithm, the same errors.
        if curves.get("ours mu") and curves.get("MiniBatchNMF"):
            a, b = curves["ours mu"], curves["MiniBatchNMF"]
            common = sorted(set(a) & set(b))
            rel = max(abs(a[i][1] - b[i][1]) / b[i][1] for i in common)
            print(f"  ours mu vs scikit-learn MiniBatchNMF: {len(common)} common passes, "
                  f"largest relative error difference {rel:.1e}", flush=True)
            if rel > F64_RTOL:
                failures.append(f"{d['name']}: ours mu and MiniBatchNMF errors differ by {rel:.2e} relative")
            note = (f"ours mu = scikit-learn's MiniBatchNMF after each of the {len(common)} common "
                    f"passes: largest relative difference of the errors {rel:.1e} (checked ≤ 1e-9)")
            if note not in notes:  # a --reuse'd run saved it already
                notes.append(note)
        if args.quick and not args.reuse:
            notes.append(check_sk_rerun(d, path, curves, failures))
        table, tlines = report(d, curves, refs, ref_times, threads,
                               {m["name"]: describe(m) for m in methods(args, d)})
        print(table, flush=True)
        for t in tlines:
            print(t, flush=True)
        all_targets += tlines
        results.append((d, curves, refs, ref_times))
        n, m = d["shape"]
        md_parts += [f"### {d['name']} {n}×{m}, k = {d['k']}", "",
                     "Time (s) to the error NMF cd reaches in N iterations [the pass that first reaches "
                     "it], speed-up over NMF cd's own time for those N iterations, and the lowest error "
                     f"reached within each time budget [after that many passes]; curves run to "
                     f"{d['max_seconds']:g} s (NMF cd at least to {max(d['ns'])} iterations).", "",
                     table, ""] + [f"- {t}" for t in notes] + ([""] if notes else [])

    png = args.png or (os.path.join(os.path.dirname(os.path.abspath(args.write)), "time_to_error.png")
                       if args.write else os.path.join(suite.TARGET, "tte-smoke.png"))
    have_mpl = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        have_mpl = False
        print("matplotlib not installed: no plot", flush=True)
    if have_mpl and results:
        plot(results, png)
        print(f"plot: {png}", flush=True)

    # The machine again at the end: each rate the better of the two.
    if not args.reuse:
        end = machine(args)
        for key, val in end.items():
            if isinstance(val, float) and key.startswith(("gemm_f", "bw_")):
                mach[key] = max(mach[key], val)
        raw["_machine"] = mach
    else:
        with open(args.reuse) as f:
            mach = json.load(f).get("_machine")
    for (d, curves, _, _), name in ((r, n) for r in results for n in ("ours cd", "ours cd (before)")):
        cd = curves.get(name)
        if not cd or mach is None:
            continue
        nnz = d["nnz"] or d["shape"][0] * d["shape"][1]
        fl, flops, nbytes = epoch_floor(d["shape"], nnz, d["k"], d["key"].startswith("sparse"), mach)
        et = epoch_time(cd)
        if et is None:
            continue
        ratio = et / fl
        floor_lines.append(
            f"- {d['name']}: {name} {1000 * et:.1f} ms per epoch, floor {1000 * fl:.1f} ms "
            f"({flops / 1e6:.0f} MFlop at {max(mach['gemm_f64_1t'], mach['gemm_f64_2t']):.1f} GFlop/s, "
            f"{nbytes / 1e6:.1f} MB at {max(mach['bw_read_1t'], mach['bw_read_2t'], mach['bw_triad_1t'], mach['bw_triad_2t']):.1f} GB/s): "
            f"{ratio:.1f}× the floor (target ≤ 2×: {'**met**' if ratio <= 2 else '**not met**'})")
        if "gather" in mach:
            batch, ws, hs = cd_settings(args, d)
            af, work = algorithm_floor(d["shape"], nnz, d["k"], d["key"].startswith("sparse"), mach,
                                       batch, ws, hs)
            floor_lines.append(
                f"  - with the work mini-batch cd cannot avoid here (batch {batch}, {ws}/{hs} sweeps: "
                f"{-(-d['shape'][0] // batch)} H updates per epoch, each sweeping all {d['shape'][1]} "
                f"columns; {work.n_gathers() / 1e6:.1f} M row gathers at the measured rates; "
                f"{work.dense_flops / 1e6:.0f} MFlop dense): floor {1000 * af:.1f} ms, "
                f"ours {et / af:.1f}× it")
    for t in floor_lines:
        print(t, flush=True)

    meta = dict(when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), minutes=(time.time() - start) / 60,
                load0=list(load0), load1=list(os.getloadavg()), command=args.command, rounds=args.rounds)
    if args.reuse:
        with open(args.reuse) as f:
            meta = json.load(f).get("_meta", meta)
    elif results:
        raw["_meta"] = meta
        with open(raw_path, "w") as f:
            json.dump(raw, f)
    load0, load1 = meta["load0"], meta["load1"]
    meth = "\n".join(f"  - {m['name']}: {describe(m, EXT.get(m['name']))}" for m in methods(args)) + \
        "".join(f"\n  - ours cd on {d['name']} (wide sparse X): batch_size={d['cd']['batch']}, "
                f"{', '.join(d['cd']['set'])}" for d, _, _, _ in results if d.get("cd") and not args.cd_batch)
    head = [
        f"- Run: {meta['when']}, `{meta['command']}`, {meta['rounds']} "
        f"round(s), {meta['minutes']:.1f} min in all; {os.cpu_count()} logical CPUs, shared with "
        f"other engineers (not quiet): load average (1, 5, 15 min) at the start "
        f"{', '.join(f'{v:.2f}' for v in load0)}, at the end {', '.join(f'{v:.2f}' for v in load1)}.",
        "- Methods (init random, random_state 0, tol 0):", meth,
        "", "Targets (speed-up of ours cd to the error NMF cd reaches in N iterations, over NMF cd's own time for them):", "", *all_targets, "",
        "Each cd epoch against its floor (two n·m·k products and one pass over X at the machine's measured "
        "GEMM and memory rates; the epoch is the slope of ours cd's curve). For sparse X that floor leaves out "
        "what mini-batch cd must do on it: each batch's H update sweeps all m columns, and the products "
        "gather rows at the measured gather rates (benches/floor.py); the second line of each counts that:",
        "", *floor_lines, "",
    ]
    text = "\n".join(head + md_parts + [f"![error against time]({os.path.basename(png)})"])
    print()
    print(text)
    if failures:
        print("\nTIME-TO-ERROR CHECKS FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    if args.quick and not args.reuse:
        missing = [m["name"] for m in methods(args, None)
                   if avail.get(m["name"], True) and not any(c is not None and name == m["name"]
                                                              for d, cs, _, _ in results for name, c in cs.items())]
        if missing:
            sys.exit(f"methods that gave no points: {missing}")
    if args.write:
        write_md(args.write, text)
        print(f"\nwrote the section into {args.write}")


if __name__ == "__main__":
    main()
