/*
 * Time per mini-batch step of a data-parallel fit, and what the all-reduce
 * hook moves per step.
 *
 *   mpirun -np P nmf_mpi_bench [N_ROWS N_COLS K BATCH BETA DENSITY THREADS STEPS_EPOCHS]
 *
 * Defaults: 20000 x 784 dense (DENSITY 1), k = 10, batch 1024, Frobenius,
 * 1 thread per rank, 3 epochs. DENSITY < 1 gives a CSR matrix with that share
 * of non-zeros (one per segment of 1/DENSITY columns). X is deterministic (entry (i, j) a function of i, j), each
 * rank builds only its rows. tol = 0 and max_no_improvement = None, so every
 * run does the same number of steps. Rank 0 prints the wall time of the fit
 * (slowest rank), the time per step, and the values and calls of the hook.
 */
#include <minibatchnmf.h>
#include <mpi.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    MPI_Comm comm;
    unsigned long long calls, values;
    double seconds;
} Hook;

static int hook(void *buf, size_t count, NmfDtype dtype, void *ctx) {
    Hook *h = ctx;
    if (count > INT_MAX) return -1;
    double t0 = MPI_Wtime();
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)count,
                           dtype == NMF_DTYPE_F64 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, h->comm);
    h->seconds += MPI_Wtime() - t0;
    h->calls++;
    h->values += count;
    return rc == MPI_SUCCESS ? 0 : rc;
}

static double entry(size_t i, size_t j, double density) {
    unsigned long long x = (unsigned long long)(i * 2654435761u + j * 40503u + 7u);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    double u = (double)(x >> 11) / 9007199254740992.0;
    if (u >= density) return 0.0;
    return 0.1 + (double)((i + j) % 17) / 17.0 + u;
}

int main(int argc, char **argv) {
    int provided, rank, p;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
    size_t m = argc > 2 ? strtoull(argv[2], NULL, 10) : 784;
    size_t k = argc > 3 ? strtoull(argv[3], NULL, 10) : 10;
    size_t batch = argc > 4 ? strtoull(argv[4], NULL, 10) : 1024;
    double beta = argc > 5 ? atof(argv[5]) : 2.0;
    double density = argc > 6 ? atof(argv[6]) : 1.0;
    size_t threads = argc > 7 ? strtoull(argv[7], NULL, 10) : 1;
    size_t epochs = argc > 8 ? strtoull(argv[8], NULL, 10) : 3;
    nmf_set_num_threads(threads);

    size_t lo = n * (size_t)rank / (size_t)p, hi = n * (size_t)(rank + 1) / (size_t)p;
    size_t rows = hi - lo;
    int sparse = density < 1.0;
    double *dense = NULL, *data = NULL;
    size_t *indptr = NULL, *indices = NULL, nnz = 0;
    if (sparse) {
        /* nr non-zeros per row, one in each of nr equal column segments. */
        size_t nr = (size_t)((double)m * density + 0.5);
        if (nr < 1) nr = 1;
        size_t seg = m / nr;
        indptr = malloc((rows + 1) * sizeof(size_t));
        indices = malloc((rows * nr + 1) * sizeof(size_t));
        data = malloc((rows * nr + 1) * sizeof(double));
        indptr[0] = 0;
        for (size_t i = 0; i < rows; i++) {
            for (size_t t = 0; t < nr; t++) {
                double u = entry(lo + i, t, 2.0);
                indices[nnz] = t * seg + (size_t)(u * 7919.0) % seg;
                data[nnz++] = u;
            }
            indptr[i + 1] = nnz;
        }
    } else {
        dense = malloc(rows * m * sizeof(double) + 8);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < m; j++) dense[i * m + j] = entry(lo + i, j, 1.0);
    }

    NmfParams prm = nmf_params_default();
    prm.n_components_mode = NMF_N_COMPONENTS_FIXED;
    prm.n_components = k;
    prm.init = NMF_INIT_RANDOM;
    prm.random_state = 0;
    prm.random_state_is_none = false;
    prm.batch_size = batch;
    prm.beta_loss = beta;
    prm.tol = 0.0;
    prm.max_no_improvement_is_none = true;
    prm.max_iter = epochs;
    NmfModel *model = NULL;
    if (nmf_create(&prm, &model) != NMF_OK) MPI_Abort(MPI_COMM_WORLD, 2);
    Hook h = {MPI_COMM_WORLD, 0, 0, 0.0};
    if (p > 1 && nmf_set_allreduce(model, hook, &h, (size_t)rank, (size_t)p) != NMF_OK)
        MPI_Abort(MPI_COMM_WORLD, 2);

    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    NmfStatus s = sparse ? nmf_fit_csr_f64(model, indptr, indices, data, nnz, rows, m)
                         : nmf_fit_dense_f64(model, dense, rows, m, 0);
    double t = MPI_Wtime() - t0, tmax = 0.0, hook_max = 0.0;
    MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&h.seconds, &hook_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (s != NMF_OK) {
        fprintf(stderr, "rank %d: fit failed: %s\n", rank, nmf_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    NmfFitInfo info;
    nmf_get_fit_info(model, &info);
    if (rank == 0)
        printf("P=%d threads/rank=%zu %s %zux%zu k=%zu batch=%zu beta=%g: %zu steps, "
               "%.3f s, %.3f ms/step; hook: %.1f calls/step, %.0f values/step, %.3f ms/step "
               "in MPI_Allreduce (slowest rank)\n",
               p, threads, sparse ? "csr" : "dense", n, m, k, batch, beta, info.n_steps, tmax,
               1e3 * tmax / (double)info.n_steps, (double)h.calls / (double)info.n_steps,
               (double)h.values / (double)info.n_steps, 1e3 * hook_max / (double)info.n_steps);
    nmf_free(model);
    free(dense);
    free(data);
    free(indptr);
    free(indices);
    MPI_Finalize();
    return 0;
}
