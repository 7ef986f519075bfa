"""The benchmark suite: minibatchnmf against scikit-learn 1.9.1 and the machine's floor.

    python benches/suite.py [--quick] [--write BENCHMARKS.md] [--rounds 3]

`make bench` runs it with the C ABI's Python venv (target/ffi-venv) and
writes the table into BENCHMARKS.md; `make bench-smoke` runs `--quick` (the
data vendored in tests/data/ only, one round, no file written).

Each case runs in its own process, ours (the cargo example `bench_runner`,
benches/runner.rs) and scikit-learn's (benches/sk_runner.py) alternately,
`--rounds` times (the GCIDE cases, minutes each, once), on the same data files with the same parameters (init
nndsvda, batch_size 1024, tol=0, max_no_improvement=None, random_state=0:
fixed work). scikit-learn runs with its BLAS limited to 1 and to 2 threads
in the first round; the faster setting is kept for the later rounds and
named in the table. Times are the minimum over all runs (the work is fixed;
a loaded machine only adds time). Both results must agree: 1e-9 relative in
f64; in f32 within the bound derived from float32 rounding (see
`f32_allowed`). The same number of mini-batch steps must be done. The
floor of a case (benches/floor.py) uses the GEMM peak and the memory
bandwidth measured by `bench_runner --mode machine` at the start of the run.

Data (prepared into target/bench-data/ once; nothing outside the repository
is read): Fashion-MNIST training images from Debian's dataset-fashion-mnist
(target/fashion-mnist/, `make target/fashion-mnist/.unpacked`), the TF-IDF of
Debian's dict-foldoc written by the demo (target/bench-data/foldoc_tfidf.mtx,
the Makefile's rule), the larger TF-IDF of Debian's dict-gcide written by the
same program (target/bench-data/large_tfidf.mtx, `make large-tfidf`, converted
here into large_tfidf.npz), and with --quick the digits and FOLDOC slice of
tests/data/.
"""

import argparse
import gzip
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np
import scipy.io
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import floor  # noqa: E402

TARGET = os.path.join(ROOT, "target")
DATA = os.path.join(TARGET, "bench-data")
EPS_F32 = float(np.finfo(np.float32).eps)
F64_RTOL = 1e-9
BEGIN, END = "<!-- bench:generated:begin -->", "<!-- bench:generated:end -->"


# --- data -----------------------------------------------------------------------

def fashion(rows):
    """The first `rows` Fashion-MNIST training images, pixels / 255, f64."""
    path = os.path.join(TARGET, "fashion-mnist", "usr", "share", "datasets", "fashion-mnist",
                        "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, h, w = (int(v) for v in np.frombuffer(raw[:16], dtype=">u4"))
    assert magic == 2051, f"{path}: not an idx3 image file"
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, h * w)[:rows] / 255.0


def positive(x):
    """X moved into (0, 1] for beta <= 0 (scikit-learn refuses zeros there):
    (X·255 + 1) / 256 for pixels / 255, i.e. (pixel + 1) / 256."""
    return (x * 255.0 + 1.0) / 256.0


def csr(x):
    x = sp.csr_matrix(x)
    x.sort_indices()
    return x


def prepare(quick, only=None):
    """Writes the data files once; returns {name: path}. `only`: the names
    to prepare (default: all)."""
    os.makedirs(DATA, exist_ok=True)
    files = {}

    def save(name, make, sources=(), filename=None):
        if only is not None and name not in only:
            return
        ext = ".npz" if name.startswith("sparse") else ".npy"
        path = os.path.join(DATA, filename or name + ext)
        stale = not os.path.exists(path) or any(
            os.path.getmtime(src) > os.path.getmtime(path) for src in sources)
        if stale:
            x = make()
            tmp = path + ".tmp" + ext
            if sp.issparse(x):
                sp.save_npz(tmp, x, compressed=False)
            else:
                np.save(tmp, np.ascontiguousarray(x, dtype=np.float64))
            os.replace(tmp, path)
        files[name] = path

    if quick:
        vend = os.path.join(ROOT, "tests", "data")
        digits = lambda: np.load(os.path.join(vend, "digits.npy")).astype(np.float64) / 16.0  # noqa: E731
        dig = [os.path.join(vend, "digits.npy")]
        save("quick_digits", digits, dig)
        save("quick_digits_pos", lambda: (np.load(dig[0]) + 1.0) / 17.0, dig)

        def slice_():
            part = lambda p: np.load(os.path.join(vend, f"foldoc1000_{p}.npy"))  # noqa: E731
            return csr(sp.csr_matrix((part("data"), part("indices"), part("indptr"))))
        save("sparse_quick_foldoc", slice_,
             [os.path.join(vend, f"foldoc1000_{p}.npy") for p in ("data", "indices", "indptr")])
        return files
    save("fashion", lambda: fashion(ROWS))
    save("fashion_pos", lambda: positive(fashion(ROWS)))
    mtx = os.path.join(DATA, "foldoc_tfidf.mtx")
    tfidf = lambda: csr(scipy.io.mmread(mtx))  # noqa: E731
    save("sparse_foldoc", tfidf, [mtx])
    save("sparse_foldoc_4096", lambda: tfidf()[:4096], [mtx])
    # The larger TF-IDF (Debian's dict-gcide, `make large-tfidf`): a stable
    # path, other benches (time to error) read it too.
    # Without `make large-tfidf` the case is left out (the reports say so).
    large = os.path.join(DATA, "large_tfidf.mtx")
    if os.path.exists(large):
        save("sparse_large_tfidf", lambda: csr(scipy.io.mmread(large)), [large],
             filename="large_tfidf.npz")
    return files


ROWS = 20000  # Fashion-MNIST rows (of 60000)


# --- cases ----------------------------------------------------------------------

def case(name, data, mode="fit", k=10, beta=2.0, epochs=1, dtype="f64", ref=None, repeats=1,
         chunk=2000, passes=1, note="", target=None, max_rounds=None):
    """`target`: the speed-up over scikit-learn the project aims for (the stricter
    of issue 8's and issue 17's where both name one).
    `max_rounds`: at most that many of the run's rounds (cases of minutes,
    where one more round moves the minimum by little and costs a lot)."""
    return dict(name=name, data=data, mode=mode, k=k, beta=beta, epochs=epochs, dtype=dtype,
                ref=ref, repeats=repeats, chunk=chunk, passes=passes, batch=1024,
                sparse=data.startswith("sparse"), note=note, target=target, max_rounds=max_rounds)


def cases(quick):
    if quick:
        d, p, s = "quick_digits", "quick_digits_pos", "sparse_quick_foldoc"
        return [
            case("digits Frobenius", d, k=10, epochs=5),
            case("digits Frobenius f32", d, k=10, epochs=5, dtype="f32", ref="digits Frobenius"),
            case("digits KL", d, k=10, beta=1.0, epochs=3),
            case("digits IS", p, k=10, beta=0.0, epochs=2),
            case("foldoc slice Frobenius", s, k=10, epochs=2),
            case("foldoc slice beta 1.5", s, k=5, beta=1.5),
            case("digits transform", d, mode="transform", k=10, epochs=5),
            case("digits partial_fit", d, mode="partial-fit", k=10, chunk=500),
            case("digits partial_fit ×3", d, mode="partial-fit", k=10, chunk=500, passes=3),
            case("foldoc slice init", s, mode="init", k=10),
        ]
    f, fp, s, s4 = "fashion", "fashion_pos", "sparse_foldoc", "sparse_foldoc_4096"
    g = "sparse_large_tfidf"
    return [
        case("Fashion Frobenius k=10, 2 epochs", f, k=10, epochs=2, repeats=2, target=4),
        case("Fashion Frobenius k=10, 2 epochs, f32", f, k=10, epochs=2, dtype="f32", repeats=2,
             ref="Fashion Frobenius k=10, 2 epochs"),
        case("Fashion Frobenius k=50, 2 epochs", f, k=50, epochs=2, repeats=2, target=4),
        case("Fashion KL k=10", f, k=10, beta=1.0, repeats=2, target=6),
        case("Fashion KL k=10, f32", f, k=10, beta=1.0, dtype="f32", repeats=2, ref="Fashion KL k=10"),
        case("Fashion+ IS k=10", fp, k=10, beta=0.0, repeats=2, note="X+ = (X·255+1)/256"),
        case("Fashion beta=0.5 k=10", f, k=10, beta=0.5, repeats=2),
        case("Fashion transform k=50", f, mode="transform", k=50, epochs=2, repeats=5, target=2),
        case("Fashion partial_fit k=10, 2000-row chunks", f, mode="partial-fit", k=10, repeats=2),
        case("same, 10 passes (200000 rows streamed)", f, mode="partial-fit", k=10, passes=10),
        case("Fashion NNDSVDa init k=50", f, mode="init", k=50, repeats=3, target=1.5),
        case("FOLDOC Frobenius k=50", s, k=50, repeats=2, target=4),
        case("FOLDOC Frobenius k=50, f32", s, k=50, dtype="f32", repeats=2, ref="FOLDOC Frobenius k=50"),
        case("FOLDOC KL k=20", s, k=20, beta=1.0, repeats=2, target=5),
        case("FOLDOC[:4096] beta=1.5 k=10", s4, k=10, beta=1.5, target=8),
        case("FOLDOC transform k=50", s, mode="transform", k=50, repeats=5, target=2),
        case("FOLDOC NNDSVDa init k=50", s, mode="init", k=50, repeats=3, target=2.5),
        # Minutes per round for scikit-learn: one round each.
        case("GCIDE Frobenius k=50", g, k=50, target=4, max_rounds=1),
        case("GCIDE KL k=20", g, k=20, beta=1.0, target=4, max_rounds=1),
    ]


# --- running ----------------------------------------------------------------------

def run_json(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"benchmark process failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def case_args(c, path):
    return ["--mode", c["mode"], "--x", path, "--dtype", c["dtype"], "--k", str(c["k"]),
            "--beta", repr(c["beta"]), "--epochs", str(c["epochs"]), "--batch", str(c["batch"]),
            "--repeats", str(c["repeats"]), "--chunk", str(c["chunk"]), "--passes", str(c["passes"])]


def run_case(c, path, args):
    ours_cmd = [args.runner] + case_args(c, path)
    sk_cmd = [sys.executable, os.path.join(HERE, "sk_runner.py")] + case_args(c, path)
    ours, sk = [], {1: [], 2: []}
    settings = [1] if args.quick else [1, 2]
    rounds = min(args.rounds, c["max_rounds"] or args.rounds)
    for rnd in range(rounds):
        ours.append(run_json(ours_cmd))
        if rnd == 0:
            for t in settings:
                sk[t].append(run_json(sk_cmd + ["--blas-threads", str(t)]))
            best = min(settings, key=lambda t: min(sk[t][0]["seconds"]))
        else:
            sk[best].append(run_json(sk_cmd + ["--blas-threads", str(best)]))
    return ours, sk[best], best


def summarise(runs):
    return dict(
        seconds=min(s for r in runs for s in r["seconds"]),
        result=runs[-1]["result"],
        results=[r["result"] for r in runs],
        n_steps=runs[-1]["n_steps"],
        peak=max(r["peak_rss_bytes"] for r in runs),
        hwm=max(r["vmhwm_bytes"] for r in runs),
        shape=runs[-1]["shape"],
        nnz=runs[-1]["nnz"],
    )


def f32_allowed(sk32, ours64, n_values):
    """How far our f32 result may be from scikit-learn's f32 result.

    Both f32 runs perform the same arithmetic with different rounding
    (summation orders in BLAS and in our fused kernels). How much f32
    rounding moves this case's result is measured by scikit-learn itself:
    δ = |S32 − R64|, its f32 result against the f64 result of the same case
    (R64: our f64 run, equal to scikit-learn's f64 run to 1e-9, checked;
    it sees X unrounded, so δ also holds the rounding of X to f32, which
    both f32 runs share). Our f32 result is another such run: within δ of
    R64 up to the spread of roundings, so within 2δ of S32 by the triangle
    inequality, doubled for margin: 4δ. Plus a floor for a δ that happens
    to be tiny: the result is a sum over the n_values stored values, whose
    f32 rounding is of order sqrt(n_values)·eps_f32·|S32| (random-walk
    accumulation of one rounding per term). The same rule as the f32 parity
    tests (tests/parity.rs), applied to the scalar result.
    """
    return 4.0 * abs(sk32 - ours64) + math.sqrt(n_values) * EPS_F32 * abs(sk32)


def mb(b):
    return f"{b / 2**20:.0f}"


def fmt_s(s):
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def target_text(c, ratio):
    if not c["target"]:
        return "—"
    return f"≥ {c['target']:g}×: {'met' if ratio >= c['target'] else 'not met'}"


def table(rows, machine_info):
    head = ("| case | n×m | density | k | beta | dtype | ours (s) | scikit-learn (s) [BLAS threads] "
            "| ratio | our result | scikit-learn's result | rel. diff | our peak RSS (MiB) "
            "| scikit-learn's peak RSS (MiB) | floor (s) | ours / floor | target |")
    lines = [head, "|" + "---|" * 17]
    for r in rows:
        c, o, s = r["case"], r["ours"], r["sk"]
        n, m = o["shape"]
        lines.append(
            f"| {c['name']} | {n}×{m} | {o['nnz'] / (n * m):.3g} | {c['k']} | {c['beta']:g} | {c['dtype']} "
            f"| {fmt_s(o['seconds'])} | {fmt_s(s['seconds'])} [{r['threads']}] "
            f"| {s['seconds'] / o['seconds']:.1f}× | {o['result']:.10g} | {s['result']:.10g} "
            f"| {r['rel']:.1e}{'' if r['ok'] else ' **FAIL**'} | {mb(o['peak'])} | {mb(s['peak'])} "
            f"| {fmt_s(r['floor'])} | {o['seconds'] / r['floor']:.1f}× | {target_text(c, s['seconds'] / o['seconds'])} |")
    return "\n".join(lines)


def machine_text(mach, args, elapsed, load):
    cpu = "unknown CPU"
    try:
        info = dict(line.split(":", 1) for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout.splitlines()
            if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        cpu = (f"{info.get('Model name', '?')} (family {info.get('CPU family', '?')}, model "
               f"{info.get('Model', '?')}; {'AVX-512' if 'avx512f' in info.get('Flags', '') else 'no AVX-512'}; "
               f"L2 {info.get('L2 cache', '?')}, L3 {info.get('L3 cache', '?')}"
               + (f"; virtual machine, {info['Hypervisor vendor']}" if "Hypervisor vendor" in info else "")
               + ")")
    except (OSError, ValueError):
        pass
    deb = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libopenblas-dev"],
                         capture_output=True, text=True).stdout.strip() or "?"
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    try:
        from threadpoolctl import threadpool_info
        import sklearn
        sk_blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                            for i in threadpool_info() if i.get("user_api") == "blas")
        skv = sklearn.__version__
    except Exception:  # noqa: BLE001  (informational only)
        sk_blas, skv = "?", "?"
    return "\n".join([
        f"- Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `{args.command}`, "
        f"{args.rounds} round(s), {elapsed / 60:.1f} min in all.",
        f"- Machine: {cpu}, {os.cpu_count()} logical CPUs, {mem} RAM, {platform.system()} "
        f"{platform.release()}. Shared with other engineers (not quiet): load average (1, 5, 15 min) at the start "
        f"{', '.join(f'{v:.2f}' for v in load[0])}, at the end {', '.join(f'{v:.2f}' for v in load[1])}.",
        f"- Ours: minibatchnmf on {os.cpu_count()} rayon threads, OpenBLAS single-threaded (Debian's "
        f"libopenblas-dev {deb}): `{mach['openblas_config']}`, core type `{mach['openblas_corename']}`.",
        f"- scikit-learn {skv}, numpy {np.__version__}, scipy {scipy.__version__}; its BLAS: {sk_blas}.",
        f"- Measured peaks (this run): GEMM {mach['gemm_n']}² f64 {mach['gemm_f64_1t']:.0f} GFLOP/s on 1 "
        f"thread, {mach['gemm_f64_2t']:.0f} on 2; f32 {mach['gemm_f32_1t']:.0f} / {mach['gemm_f32_2t']:.0f}. "
        f"Memory ({3 * mach['stream_bytes'] / 2**20:.0f} MiB of arrays): read {mach['bw_read_1t']:.1f} GB/s on 1 thread, {mach['bw_read_2t']:.1f} on 2; "
        f"triad {mach['bw_triad_1t']:.1f} / {mach['bw_triad_2t']:.1f} (the better of a measurement "
        f"at the start and one at the end of the run). The floor uses the best GEMM rate of the "
        f"case's dtype and the best bandwidth.",
        gather_text(mach["gather"]),
    ])


def gather_text(g):
    """The measured gather rates, one clause per working set."""
    parts = []
    for lev, label in (("l2", "fits L2"), ("l3", "fits L3"), ("mem", "memory")):
        v = g["levels"][lev]
        rates = ", ".join(f"{int(w) * 8} B {min(ns['ns_1t'], ns['ns_2t']):.1f}"
                          for w, ns in sorted(v["ns_per_row"].items(), key=lambda kv: int(kv[0])))
        parts.append(f"{label} ({v['bytes'] / 2**20:.2g} MiB array): {rates}")
    return ("- Random row gathers (CSR × dense access: per stored value, one multiply-add of a random "
            f"row into an accumulator, {g['row_nnz']} values per row, prefetched 8 ahead), ns per row "
            "(the better of 1 and 2 threads, 2 threads counted together) by row width: "
            + "; ".join(parts) + ". A sparse product's s stored values count as s gathers at the rate of "
            "its gathered operand's size (benches/floor.py).")


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
    ap.add_argument("--quick", action="store_true", help="vendored data only, tiny cases, one round")
    ap.add_argument("--rounds", type=int, default=None, help="alternations per case (default 3, --quick 1)")
    ap.add_argument("--runner", default=os.path.join(TARGET, "release", "examples", "bench_runner"))
    ap.add_argument("--write", metavar="MD", help="write the table into this file between its markers")
    ap.add_argument("--only", help="run only the cases whose name contains this text")
    ap.add_argument("--command", default="make bench", help="the command named in the output")
    ap.add_argument("--prepare-only", metavar="NAME", action="append",
                    help="only write this data file into target/bench-data/ (repeatable; "
                         "make large-tfidf: sparse_large_tfidf)")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    start, load0 = time.time(), os.getloadavg()

    if args.prepare_only:
        files = prepare(args.quick, set(args.prepare_only))
        print("\n".join(f"{k}: {v}" for k, v in sorted(files.items())))
        return
    files = prepare(args.quick)
    # --quick: small machine measurements (they only check the code path).
    mach_cmd = [args.runner, "--mode", "machine"] + (
        ["--gemm-n", "512", "--stream-len", str(1 << 22)] if args.quick else [])
    mach = run_json(mach_cmd)

    todo = cases(args.quick)
    if args.only:
        # The matching cases, and the f64 cases the f32 ones among them are checked against.
        keep = {c["name"] for c in todo if args.only in c["name"]}
        keep |= {c["ref"] for c in todo if c["name"] in keep and c["ref"]}
        todo = [c for c in todo if c["name"] in keep]
    rows, by_name, failures = [], {}, []
    for c in todo:
        ours_runs, sk_runs, threads = run_case(c, files[c["data"]], args)
        o, s = summarise(ours_runs), summarise(sk_runs)
        wk = floor.work(c, tuple(o["shape"]), o["nnz"])
        rel = abs(o["result"] - s["result"]) / abs(s["result"])
        if c["dtype"] == "f64":
            allowed = F64_RTOL * abs(s["result"])
        else:
            ref = by_name.get(c["ref"])
            if ref is None:
                sys.exit(f"case {c['name']!r}: its f64 reference {c['ref']!r} must run first")
            allowed = f32_allowed(s["result"], ref["ours"]["result"], o["nnz"])
        spread = max(abs(v - o["result"]) for v in o["results"] + s["results"])
        ok = spread <= allowed and o["n_steps"] == s["n_steps"]
        if not ok:
            failures.append(f"{c['name']}: ours {o['results']} vs scikit-learn {s['results']} "
                            f"(allowed ±{allowed:.3g}); n_steps {o['n_steps']} vs {s['n_steps']}")
        row = dict(case=c, ours=o, sk=s, threads=threads, rel=rel, ok=ok, work=wk, flops=wk.flops,
                   bytes=wk.bytes)
        rows.append(row)
        by_name[c["name"]] = row
        print(f"{c['name']:45} ours {fmt_s(o['seconds']):>7} s  sklearn {fmt_s(s['seconds']):>7} s "
              f"[{threads}]  {s['seconds'] / o['seconds']:5.1f}×  rel {rel:.1e}{'' if ok else '  FAIL'}  "
              f"peak RSS {mb(o['peak'])} / {mb(s['peak'])} MiB", flush=True)

    # The machine again at the end; each rate is the better of the two
    # measurements (a loaded machine can only make a rate look lower, and
    # the floor must not be raised by that). Two threads are at least as
    # fast as one: a 2-thread rate below the 1-thread one was disturbed.
    end = run_json(mach_cmd)
    for key, val in end.items():
        if isinstance(val, float) and key.startswith(("gemm_f", "bw_")):
            mach[key] = max(mach[key], val)
    for lev, v in end["gather"]["levels"].items():  # gathers: the shorter time
        for w, ns in v["ns_per_row"].items():
            for t, val in ns.items():
                cur = mach["gather"]["levels"][lev]["ns_per_row"][w]
                cur[t] = min(cur[t], val)
    peak = {d: max(mach[f"gemm_{d}_1t"], mach[f"gemm_{d}_2t"]) * 1e9 for d in ("f64", "f32")}
    bw = max(mach["bw_read_1t"], mach["bw_read_2t"], mach["bw_triad_1t"], mach["bw_triad_2t"]) * 1e9
    for r in rows:
        r["floor"] = r["work"].floor(peak[r["case"]["dtype"]], bw, mach["gather"])
        print(f"{r['case']['name']:45} floor {fmt_s(r['floor'])} s: ours / floor "
              f"{r['ours']['seconds'] / r['floor']:.1f}×")

    notes = []
    for r in rows:
        ref = by_name.get(r["case"]["ref"])
        if ref:
            sp32 = ref['ours']['seconds'] / r['ours']['seconds']
            notes.append(f"- {r['case']['name']}: our f64 time / our f32 time = {sp32:.2f}× "
                         f"(target ≥ 1.8×: {'met' if sp32 >= 1.8 else 'not met'}; "
                         f"scikit-learn: {ref['sk']['seconds'] / r['sk']['seconds']:.2f}×).")
    for r in rows:
        c = r["case"]
        g = (f", {r['work'].n_gathers() / 1e6:.1f} M row gathers ({r['work'].gather_seconds(mach['gather']):.3f} s "
             f"at the measured rates)" if r["work"].gathers else "")
        notes.append(f"- {c['name']}: {r['flops'] / 1e9:.2f} GFLOP, {r['bytes'] / 1e9:.2f} GB{g}; "
                     f"whole-process peak RSS (VmHWM, data included) ours {mb(r['ours']['hwm'])} MiB, "
                     f"scikit-learn's {mb(r['sk']['hwm'])} MiB" + (f"; {c['note']}" if c["note"] else ""))
    text = "\n".join([machine_text(mach, args, time.time() - start, (load0, os.getloadavg())), "",
                      table(rows, mach), "", "Work counted for the floor, f32 speed-ups, notes:", "",
                      *notes])
    print()
    print(text)
    if failures:
        print("\nRESULTS DIFFER FROM SCIKIT-LEARN'S:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    if args.write:
        write_md(args.write, text)
        print(f"\nwrote the table into {args.write}")


if __name__ == "__main__":
    main()
