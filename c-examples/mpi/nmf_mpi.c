/*
 * Data-parallel MiniBatchNMF over MPI through the C ABI's all-reduce hook,
 * checked against the single-process fit of the same rows.
 *
 *   mpirun -np P nmf_mpi [THREADS_PER_RANK]
 *
 * Every rank builds its shard of a deterministic matrix X (N x M; entry
 * (i, j) is a function of i and j only, so no rank needs another's data),
 * passes MPI_Allreduce to the library with nmf_set_allreduce, and fits on
 * its own rows. The shards, concatenated in rank order, are X. Rank 0 also
 * fits X alone (no hook) and broadcasts the reference; every rank checks
 * that its H, n_steps and final cost (reconstruction_err), and its rows of
 * W, equal the reference to 1e-12 relative (1e-10 after an nndsvda init), for dense and CSR X, Frobenius
 * and Kullback-Leibler, even and uneven shards (one of them empty when
 * P >= 3), with init random and (KL, uneven) nndsvda. Then the fault cases: a negative value on the last rank's shard
 * and a malformed CSR on rank 0 must make every rank return an error
 * (the faulty rank its own status, the others NMF_ERR_REDUCE) without
 * hanging, and a good fit must work afterwards.
 *
 * Exit status 0 on every rank when every check passed.
 */
#include <minibatchnmf.h>
#include <mpi.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ROWS 203
#define N_COLS 30
#define K 5
#define TOL_REL 1e-12
/* nndsvda: the fast range finder of the initialisation (dense f64) forms
 * Mᵀ·P·L as (Mᵀ·Y)·U⁻¹, or iterates on G = XᵀX, so the rounding of sums that
 * the shards associate differently is multiplied by up to cond(U) (its guard
 * allows 1e4) or (σ₁/σ_k)² (its guard allows 1e6) before the fit starts:
 * 1e-10 relative (the exact two-pass products gave 2e-13 here, the fast
 * ones 3e-12). */
#define TOL_REL_NNDSVD 1e-10

static int rank, n_ranks;
static int n_failed = 0, n_passed = 0;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (cond) {                                                                \
            n_passed++;                                                            \
        } else {                                                                   \
            n_failed++;                                                            \
            fprintf(stderr, "rank %d: FAILED (line %d): ", rank, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                                          \
            fprintf(stderr, " [last error: %s]\n", nmf_last_error());              \
        }                                                                          \
    } while (0)

#define MUST(call)                                                                 \
    do {                                                                           \
        NmfStatus s_ = (call);                                                     \
        if (s_ != NMF_OK) {                                                        \
            fprintf(stderr, "rank %d: %s failed: %s: %s\n", rank, #call,           \
                    nmf_status_str(s_), nmf_last_error());                         \
            MPI_Abort(MPI_COMM_WORLD, 2);                                          \
        }                                                                          \
    } while (0)

/* The hook: an in-place sum over the communicator in ctx. */
static int mpi_allreduce_sum(void *buf, size_t count, NmfDtype dtype, void *ctx) {
    MPI_Comm comm = *(MPI_Comm *)ctx;
    if (count > INT_MAX) return -1;
    MPI_Datatype t = dtype == NMF_DTYPE_F64 ? MPI_DOUBLE : MPI_FLOAT;
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, t, MPI_SUM, comm);
    return rc == MPI_SUCCESS ? 0 : rc;
}

/* X[i][j]: deterministic, non-negative, ~40% zeros, with some structure. */
static double x_entry(size_t i, size_t j) {
    unsigned long long h = (unsigned long long)(i * 7919u + j * 104729u + 12345u);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    double u = (double)(h >> 11) / 9007199254740992.0;
    if (u < 0.4) return 0.0;
    return u * (1.0 + (double)(i % 4) * (double)(j % 5) / 4.0);
}

/* Rows of each rank: even (N/P, the remainder spread over the first ranks)
 * or uneven (weights 1, 3, 0, 2, 1, 3, 0, 2, ... with the rest on the last). */
static void shard_sizes(int uneven, size_t *sizes) {
    if (!uneven) {
        for (int r = 0; r < n_ranks; r++)
            sizes[r] = N_ROWS / n_ranks + ((size_t)r < N_ROWS % n_ranks ? 1 : 0);
        return;
    }
    static const size_t w[4] = {1, 3, 0, 2};
    size_t total = 0, used = 0;
    for (int r = 0; r < n_ranks; r++) total += w[r % 4];
    for (int r = 0; r < n_ranks; r++) {
        sizes[r] = total ? N_ROWS * w[r % 4] / total : 0;
        used += sizes[r];
    }
    sizes[n_ranks - 1] += N_ROWS - used;
}

typedef struct {
    double *dense; /* n x N_COLS */
    size_t *indptr, *indices;
    double *data;
    size_t n, nnz;
} Block;

/* Rows [start, start + n) of X, dense and CSR. */
static Block make_block(size_t start, size_t n) {
    Block b;
    b.n = n;
    b.dense = malloc((n * N_COLS + 1) * sizeof(double));
    b.indptr = malloc((n + 1) * sizeof(size_t));
    b.indices = malloc((n * N_COLS + 1) * sizeof(size_t));
    b.data = malloc((n * N_COLS + 1) * sizeof(double));
    if (!b.dense || !b.indptr || !b.indices || !b.data) MPI_Abort(MPI_COMM_WORLD, 2);
    b.nnz = 0;
    b.indptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < N_COLS; j++) {
            double v = x_entry(start + i, j);
            b.dense[i * N_COLS + j] = v;
            if (v != 0.0) {
                b.indices[b.nnz] = j;
                b.data[b.nnz] = v;
                b.nnz++;
            }
        }
        b.indptr[i + 1] = b.nnz;
    }
    return b;
}

static void free_block(Block *b) {
    free(b->dense);
    free(b->indptr);
    free(b->indices);
    free(b->data);
}

static NmfParams case_params(double beta, NmfInit init) {
    NmfParams p = nmf_params_default();
    p.n_components_mode = NMF_N_COMPONENTS_FIXED;
    p.n_components = K;
    p.init = init;
    p.random_state = 3;
    p.random_state_is_none = false;
    p.batch_size = 32;
    p.beta_loss = beta;
    p.max_iter = 40;
    p.tol = 1e-4;
    return p;
}

static NmfStatus fit_block(NmfModel *m, const Block *b, int csr, double *w_out) {
    size_t w_len = b->n * K + 1;
    if (csr)
        return nmf_fit_transform_csr_f64(m, b->indptr, b->indices, b->data, b->nnz, b->n, N_COLS,
                                         NULL, NULL, 0, w_out, w_len);
    return nmf_fit_transform_dense_f64(m, b->dense, b->n, N_COLS, 0, NULL, NULL, 0, w_out, w_len);
}

static double max_abs(const double *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    double s = max_abs(b, n);
    return s > 0 ? d / s : d;
}

/* The solver of a case: scikit-learn's multiplicative updates, or coordinate
   descent (a parameter beyond NmfParams, set by name). */
static void set_solver(NmfModel *m, int cd) {
    if (cd) MUST(nmf_set_param(m, "solver", "cd"));
}

/* One equality case; returns the worst relative difference seen. */
static double run_case(double beta, int csr, int uneven, NmfInit init, int cd, MPI_Comm *comm) {
    size_t sizes[256];
    shard_sizes(uneven, sizes);
    size_t offset = 0;
    for (int r = 0; r < rank; r++) offset += sizes[r];
    NmfParams p = case_params(beta, init);

    /* Reference on rank 0: the whole X, one process. */
    double ref_h[K * N_COLS], ref_w[N_ROWS * K], ref_err = 0.0;
    unsigned long long ref_steps = 0;
    if (rank == 0) {
        Block all = make_block(0, N_ROWS);
        NmfModel *ref = NULL;
        MUST(nmf_create(&p, &ref));
        set_solver(ref, cd);
        MUST(fit_block(ref, &all, csr, ref_w));
        NmfFitInfo info;
        MUST(nmf_get_fit_info(ref, &info));
        MUST(nmf_get_components_f64(ref, ref_h, K * N_COLS));
        ref_err = info.reconstruction_err;
        ref_steps = info.n_steps;
        nmf_free(ref);
        free_block(&all);
    }
    MPI_Bcast(ref_h, K * N_COLS, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(ref_w, N_ROWS * K, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&ref_err, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&ref_steps, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);

    /* Distributed: this rank's rows only. */
    Block mine = make_block(offset, sizes[rank]);
    double *w = malloc((sizes[rank] * K + 1) * sizeof(double));
    NmfModel *m = NULL;
    MUST(nmf_create(&p, &m));
    set_solver(m, cd);
    MUST(nmf_set_allreduce(m, mpi_allreduce_sum, comm, (size_t)rank, (size_t)n_ranks));
    NmfStatus s = fit_block(m, &mine, csr, w);
    double worst = 0.0;
    const char *what = csr ? "csr" : "dense";
    CHECK(s == NMF_OK, "%s beta=%g uneven=%d: fit returned %s", what, beta, uneven,
          nmf_status_str(s));
    NmfFitInfo info = {0};
    double dh = 0.0, de = 0.0, dw = 0.0;
    if (s == NMF_OK) {
        double h[K * N_COLS];
        MUST(nmf_get_fit_info(m, &info));
        MUST(nmf_get_components_f64(m, h, K * N_COLS));
        dh = rel_diff(h, ref_h, K * N_COLS);
        de = fabs(info.reconstruction_err - ref_err) / ref_err;
        /* This rank's rows of W against the same rows of the reference. */
        double sw = max_abs(ref_w, N_ROWS * K);
        for (size_t i = 0; i < sizes[rank] * K; i++)
            dw = fmax(dw, fabs(w[i] - ref_w[offset * K + i]) / sw);
        CHECK(info.n_steps == ref_steps, "%s beta=%g uneven=%d: n_steps %zu vs %llu", what, beta,
              uneven, info.n_steps, ref_steps);
        double tol = init == NMF_INIT_NNDSVDA ? TOL_REL_NNDSVD : TOL_REL;
        CHECK(dh <= tol, "%s beta=%g uneven=%d: H differs by %g", what, beta, uneven, dh);
        CHECK(de <= tol, "%s beta=%g uneven=%d: cost differs by %g", what, beta, uneven, de);
        CHECK(dw <= tol, "%s beta=%g uneven=%d: W differs by %g", what, beta, uneven, dw);
        worst = fmax(fmax(dh, de), dw);
    }
    /* The worst over all ranks (each checks its own rows of W). */
    double all_worst = 0.0;
    MPI_Allreduce(&worst, &all_worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (s == NMF_OK && rank == 0)
        printf("P=%d %-5s %-3s %-3s %-7s %-6s shards: n_steps %zu (reference %llu), "
               "H %.1e, cost %.1e, W %.1e (rank 0), worst on any rank %.1e\n",
               n_ranks, what, cd ? "cd" : "mu", beta == 2.0 ? "fro" : "kl",
               init == NMF_INIT_RANDOM ? "random" : "nndsvda", uneven ? "uneven" : "even",
               info.n_steps, ref_steps, dh, de, dw, all_worst);
    nmf_free(m);
    free(w);
    free_block(&mine);
    return worst;
}

/* A fault on one rank: every rank must return (no hang) with an error. */
static void run_fault(int kind, MPI_Comm *comm) {
    size_t sizes[256];
    shard_sizes(0, sizes);
    size_t offset = 0;
    for (int r = 0; r < rank; r++) offset += sizes[r];
    NmfParams p = case_params(2.0, NMF_INIT_RANDOM);
    Block mine = make_block(offset, sizes[rank]);
    int faulty = kind == 0 ? n_ranks - 1 : 0;
    if (rank == faulty) {
        if (kind == 0)
            mine.dense[0] = -1.0; /* a negative value */
        else if (mine.nnz > 0)
            mine.indices[0] = N_COLS + 7; /* a column index out of range */
    }
    double *w = malloc((sizes[rank] * K + 1) * sizeof(double));
    NmfModel *m = NULL;
    MUST(nmf_create(&p, &m));
    MUST(nmf_set_allreduce(m, mpi_allreduce_sum, comm, (size_t)rank, (size_t)n_ranks));
    NmfStatus s = fit_block(m, &mine, kind == 1, w);
    NmfStatus want = rank != faulty          ? NMF_ERR_REDUCE
                     : kind == 0             ? NMF_ERR_NEGATIVE_DATA
                                             : NMF_ERR_INVALID_CSR;
    CHECK(s == want, "fault %d: got %s, want %s", kind, nmf_status_str(s), nmf_status_str(want));
    bool fitted = true;
    MUST(nmf_is_fitted(m, &fitted));
    CHECK(!fitted, "fault %d: the model must stay unfitted", kind);
    if (rank == 0)
        printf("P=%d fault on rank %d (%s): rank 0 returned %s\n", n_ranks, faulty,
               kind == 0 ? "negative value" : "malformed CSR", nmf_status_str(s));
    /* The ranks are still in step: a good fit works on the same model. */
    if (rank == faulty) {
        free_block(&mine);
        mine = make_block(offset, sizes[rank]);
    }
    s = fit_block(m, &mine, kind == 1, w);
    CHECK(s == NMF_OK, "fault %d: the fit after the fault returned %s", kind, nmf_status_str(s));
    nmf_free(m);
    free(w);
    free_block(&mine);
}

int main(int argc, char **argv) {
    int provided = 0;
    /* The library calls the hook from one of its threads, one call at a time. */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    if (provided < MPI_THREAD_SERIALIZED) {
        fprintf(stderr, "MPI does not provide MPI_THREAD_SERIALIZED\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (n_ranks > 256) MPI_Abort(MPI_COMM_WORLD, 2);
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    /* Errors come back to the hook as return codes instead of aborting. */
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MUST(nmf_set_num_threads(argc > 1 ? (size_t)atoi(argv[1]) : 1));

    double worst = 0.0;
    for (int csr = 0; csr <= 1; csr++)
        for (int b = 0; b < 2; b++)
            for (int uneven = 0; uneven <= 1; uneven++)
                worst = fmax(worst,
                             run_case(b == 0 ? 2.0 : 1.0, csr, uneven, NMF_INIT_RANDOM, 0, &comm));
    /* NNDSVDa: the randomized SVD distributed through the same hook. */
    for (int csr = 0; csr <= 1; csr++)
        worst = fmax(worst, run_case(1.0, csr, 1, NMF_INIT_NNDSVDA, 0, &comm));
    /* Coordinate descent: its statistics A = WᵀW and B = WᵀX reduce like the
       multiplicative updates' numerator and denominator. */
    for (int csr = 0; csr <= 1; csr++)
        for (int uneven = 0; uneven <= 1; uneven++)
            worst = fmax(worst, run_case(2.0, csr, uneven, NMF_INIT_RANDOM, 1, &comm));
    for (int csr = 0; csr <= 1; csr++)
        worst = fmax(worst, run_case(2.0, csr, 1, NMF_INIT_NNDSVDA, 1, &comm));
    run_fault(0, &comm);
    run_fault(1, &comm);

    int failed = n_failed, total_failed = 0;
    MPI_Allreduce(&failed, &total_failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    double all_worst = 0.0;
    MPI_Allreduce(&worst, &all_worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0)
        printf("nmf_mpi P=%d: %s (%d checks per rank; worst relative difference %.1e; "
               "tolerance %.0e, %.0e after nndsvda)\n",
               n_ranks, total_failed ? "FAILED" : "all checks passed", n_passed + n_failed,
               all_worst, TOL_REL, TOL_REL_NNDSVD);
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return total_failed ? 1 : 0;
}
