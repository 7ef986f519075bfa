#!/usr/bin/env python3
"""alpha-beta model of a data-parallel MiniBatchNMF step (see SCALING.md).

    step(P) = fixed + rows(P) * t_row + allreduce(P, bytes)

fixed: the per-step work every rank repeats whatever P (H cache refresh, the
H update, and for Frobenius the k x k x m product W^T W . H), measured at P = 1.
t_row: the time per row of the batch (W update, statistics), measured at P = 1;
a rank does bs / P rows. allreduce: ring (2 (P-1) alpha + 2 (P-1)/P n beta) and
Rabenseifner / recursive halving-doubling (2 log2 P alpha + 2 (P-1)/P n beta),
what MPI libraries pick for mid-size and large messages.

Usage: scaling_model.py benches/scaling_cases.json  (prints the tables of SCALING.md)
"""
import math

NETWORKS = {
    # alpha: per-message latency in s; beta: s per byte (effective bandwidth)
    "10 GbE (TCP)": (30e-6, 1 / 1.1e9),
    "InfiniBand HDR": (2e-6, 1 / 20e9),
}

# The cases file: a list of {name, values (reduced per step), fixed (s/step),
# t_row (s/row), batch}; fixed and t_row measured with make bench-mpi at P = 1
# for two batch sizes (see SCALING.md).


def allreduce(p, nbytes, alpha, beta, ring=True):
    if p == 1:
        return 0.0
    lat = 2 * (p - 1) * alpha if ring else 2 * math.log2(p) * alpha
    return lat + 2 * (p - 1) / p * nbytes * beta


def table(name, values, fixed, t_row, batch, ps=(1, 8, 16, 32, 64, 128, 256)):
    nbytes = 8 * values
    t1 = fixed + batch * t_row
    print(f"\n{name}: batch {batch}, {values} values ({nbytes / 1e6:.2f} MB) per step, "
          f"P=1 step {t1 * 1e3:.2f} ms")
    print("| network | P | compute ms | ring ms | rabenseifner ms | step ms (best) | speed-up | efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for net, (a, b) in NETWORKS.items():
        for p in ps:
            comp = fixed + batch / p * t_row
            ring = allreduce(p, nbytes, a, b, True)
            rab = allreduce(p, nbytes, a, b, False)
            step = comp + min(ring, rab)
            print(f"| {net} | {p} | {comp * 1e3:.2f} | {ring * 1e3:.2f} | {rab * 1e3:.2f} | "
                  f"{step * 1e3:.2f} | {t1 / step:.1f} | {t1 / step / p:.2f} |")


def grow(name, values, fixed, t_row, net, target=0.5):
    """Smallest batch per rank for which efficiency >= target, per P."""
    a, b = NETWORKS[net]
    out = []
    for p in (8, 16, 32, 64, 128, 256):
        comm = min(allreduce(p, 8 * values, a, b, True), allreduce(p, 8 * values, a, b, False))
        # eff = (fixed + B t_row) / (P (fixed + B/P t_row + comm)) >= target, B = global batch
        # B t_row (1 - target) >= target P (fixed + comm) - fixed
        need = (target * p * (fixed + comm) - fixed) / (t_row * (1 - target))
        out.append((p, max(0, math.ceil(need))))
    print(f"{name} on {net}: global batch for {target:.0%} efficiency: " +
          ", ".join(f"P={p}: {bb}" for p, bb in out))


if __name__ == "__main__":
    import sys
    import json
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for c in cases:
        table(c["name"], c["values"], c["fixed"], c["t_row"], c["batch"])
    for c in cases:
        for net in NETWORKS:
            grow(c["name"], c["values"], c["fixed"], c["t_row"], net)
