/*
 * Topic extraction from the FOLDOC TF-IDF matrix through the C API of
 * minibatchnmf, then a tour of the rest of the API and of its error paths.
 *
 *   nmf_example DATA_DIR [N_ROWS [N_COMPONENTS [MAX_ITER [THREADS]]]]
 *
 * DATA_DIR holds the FOLDOC TF-IDF slice of tests/data/ (scipy CSR arrays
 * foldoc1000_{indptr,indices,data}.npy and foldoc1000_vocab.txt). The first
 * N_ROWS documents are read as CSR.
 * Exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <minibatchnmf.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_passed = 0;
static int n_failed = 0;

/* Record one check; print the library's message when it fails. */
#define CHECK(cond, what)                                                          \
    do {                                                                           \
        if (cond) {                                                                \
            n_passed++;                                                            \
        } else {                                                                   \
            n_failed++;                                                            \
            fprintf(stderr, "FAILED: %s (line %d; last error: %s)\n", what,         \
                    __LINE__, nmf_last_error());                                   \
        }                                                                          \
    } while (0)

/* A call that must succeed: abort the example otherwise. */
#define MUST(call)                                                                 \
    do {                                                                           \
        NmfStatus s_ = (call);                                                     \
        if (s_ != NMF_OK) {                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__,      \
                    #call, nmf_status_str(s_), nmf_last_error());                  \
            exit(2);                                                               \
        }                                                                          \
    } while (0)

/* A CSR matrix (the first rows of the vendored FOLDOC slice). */
typedef struct {
    size_t n_rows, n_cols, nnz;
    size_t *indptr, *indices;
    double *data;
} Csr;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/*
 * A one-dimensional little-endian .npy file (format 1.0) of dtype `descr`
 * ("<i4" or "<f8"): its length in *len, its raw elements (elem_size bytes
 * each) in a new buffer.
 */
static void *read_npy_1d(const char *path, const char *descr, size_t elem_size, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1) {
        fprintf(stderr, "%s: not a version 1 .npy file\n", path);
        exit(2);
    }
    size_t hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    char *header = xmalloc(hlen + 1);
    if (fread(header, 1, hlen, f) != hlen) {
        fprintf(stderr, "%s: truncated header\n", path);
        exit(2);
    }
    header[hlen] = '\0';
    char want[32];
    snprintf(want, sizeof want, "'descr': '%s'", descr);
    const char *shape = strstr(header, "'shape': (");
    if (!strstr(header, want) || !strstr(header, "'fortran_order': False") || !shape ||
        sscanf(shape, "'shape': (%zu,)", len) != 1) {
        fprintf(stderr, "%s: expected a 1-d C-order %s array, header %s\n", path, descr, header);
        exit(2);
    }
    free(header);
    void *out = xmalloc(*len * elem_size);
    if (fread(out, elem_size, *len, f) != *len) {
        fprintf(stderr, "%s: truncated data\n", path);
        exit(2);
    }
    fclose(f);
    return out;
}

/*
 * The first max_rows rows of DIR/foldoc1000_{indptr,indices,data}.npy
 * (int32, int32, float64: scipy's CSR arrays); n_cols from the vocabulary.
 */
static Csr read_csr_rows(const char *dir, size_t max_rows, size_t n_cols) {
    char path[4096];
    size_t n_ptr, n_idx, n_val;
    snprintf(path, sizeof path, "%s/foldoc1000_indptr.npy", dir);
    int32_t *indptr = read_npy_1d(path, "<i4", sizeof(int32_t), &n_ptr);
    snprintf(path, sizeof path, "%s/foldoc1000_indices.npy", dir);
    int32_t *indices = read_npy_1d(path, "<i4", sizeof(int32_t), &n_idx);
    snprintf(path, sizeof path, "%s/foldoc1000_data.npy", dir);
    double *data = read_npy_1d(path, "<f8", sizeof(double), &n_val);
    if (n_ptr == 0 || n_idx != n_val || (size_t)indptr[n_ptr - 1] != n_idx) {
        fprintf(stderr, "%s: inconsistent CSR parts\n", dir);
        exit(2);
    }
    Csr m;
    m.n_rows = max_rows < n_ptr - 1 ? max_rows : n_ptr - 1;
    m.n_cols = n_cols;
    m.nnz = (size_t)indptr[m.n_rows];
    m.indptr = xmalloc((m.n_rows + 1) * sizeof(size_t));
    m.indices = xmalloc(m.nnz * sizeof(size_t));
    m.data = xmalloc(m.nnz * sizeof(double));
    for (size_t i = 0; i <= m.n_rows; i++) m.indptr[i] = (size_t)indptr[i];
    for (size_t p = 0; p < m.nnz; p++) {
        m.indices[p] = (size_t)indices[p];
        m.data[p] = data[p];
    }
    free(indptr);
    free(indices);
    free(data);
    return m;
}

/* The number of lines of a text file. */
static size_t count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n') n++;
    fclose(f);
    return n;
}

static void free_csr(Csr *m) {
    free(m->indptr);
    free(m->indices);
    free(m->data);
}

static char **read_lines(const char *path, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char **words = xmalloc(n * sizeof(char *));
    char line[512];
    for (size_t i = 0; i < n; i++) {
        if (!fgets(line, sizeof line, f)) {
            fprintf(stderr, "%s: fewer than %zu lines\n", path, n);
            exit(2);
        }
        line[strcspn(line, "\r\n")] = '\0';
        words[i] = xmalloc(strlen(line) + 1);
        strcpy(words[i], line);
    }
    fclose(f);
    return words;
}

/* Indices of the `top` largest values of row[0..n). */
static void top_indices(const double *row, size_t n, size_t *best, size_t top) {
    size_t filled = 0;
    for (size_t j = 0; j < n; j++) {
        size_t pos = filled < top ? filled : top;
        while (pos > 0 && row[best[pos - 1]] < row[j]) {
            if (pos < top) best[pos] = best[pos - 1];
            pos--;
        }
        if (pos < top) {
            best[pos] = j;
            if (filled < top) filled++;
        }
    }
}

static const char *stop_name(NmfStopReason r) {
    switch (r) {
    case NMF_STOP_MAX_ITER: return "max_iter reached";
    case NMF_STOP_SMALL_H_CHANGE: return "small change of H";
    case NMF_STOP_NO_IMPROVEMENT: return "no improvement";
    case NMF_STOP_INTERRUPTED: return "interrupted";
    }
    return "?";
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR [N_ROWS [N_COMPONENTS [MAX_ITER [THREADS]]]]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    size_t n_rows = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t k = argc > 3 ? strtoul(argv[3], NULL, 10) : 10;
    size_t max_iter = argc > 4 ? strtoul(argv[4], NULL, 10) : 15;
    size_t threads = argc > 5 ? strtoul(argv[5], NULL, 10) : 0;

    printf("minibatchnmf %s (header %s)\n", nmf_version(), MINIBATCHNMF_VERSION);
    CHECK(strcmp(nmf_version(), MINIBATCHNMF_VERSION) == 0, "library and header versions agree");
    MUST(nmf_set_num_threads(threads));
    printf("threads: %zu\n", nmf_get_num_threads());

    char path[4096];
    snprintf(path, sizeof path, "%s/foldoc1000_vocab.txt", dir);
    size_t n_terms = count_lines(path);
    char **vocab = read_lines(path, n_terms);
    Csr x = read_csr_rows(dir, n_rows, n_terms);
    size_t n = x.n_rows, m = x.n_cols;
    printf("X: %zu documents x %zu terms, %zu non-zeros (CSR)\n", n, m, x.nnz);

    /* ---- fit_transform on CSR data ---------------------------------- */
    NmfParams p = nmf_params_default();
    p.n_components_mode = NMF_N_COMPONENTS_FIXED;
    p.n_components = k;
    p.init = NMF_INIT_NNDSVDA;
    p.batch_size = 256;
    p.max_iter = max_iter;
    p.random_state_is_none = false;
    p.random_state = 0;
    /* Mini-batches of sparse text are noisy: stop on the H change or
       max_iter only (scikit-learn's max_no_improvement=None). */
    p.max_no_improvement_is_none = true;

    NmfModel *model = NULL;
    MUST(nmf_create(&p, &model));
    double *w = xmalloc(n * k * sizeof(double));
    MUST(nmf_fit_transform_csr_f64(model, x.indptr, x.indices, x.data, x.nnz, n, m, NULL, NULL, 0,
                                   w, n * k));
    NmfFitInfo info;
    MUST(nmf_get_fit_info(model, &info));
    printf("fit: n_iter %zu, n_steps %zu, reconstruction_err %.6f, stopped by %s%s\n", info.n_iter,
           info.n_steps, info.reconstruction_err, stop_name(info.stop_reason),
           info.convergence_warning ? " (ConvergenceWarning)" : "");
    size_t got_k = 0, got_m = 0, n_iter = 0, n_steps = 0;
    double err = -1;
    MUST(nmf_get_n_components(model, &got_k));
    MUST(nmf_get_n_features_in(model, &got_m));
    MUST(nmf_get_n_iter(model, &n_iter));
    MUST(nmf_get_n_steps(model, &n_steps));
    MUST(nmf_get_reconstruction_err(model, &err));
    CHECK(got_k == k && got_m == m, "n_components and n_features_in");
    CHECK(n_iter == info.n_iter && n_steps == info.n_steps && err == info.reconstruction_err,
          "getters agree with the fit info");
    CHECK(n_iter >= 1 && n_iter <= max_iter, "n_iter within [1, max_iter]");
    bool fitted = false;
    MUST(nmf_is_fitted(model, &fitted));
    CHECK(fitted, "model is fitted");
    NmfDtype dtype = NMF_DTYPE_NONE;
    MUST(nmf_get_dtype(model, &dtype));
    CHECK(dtype == NMF_DTYPE_F64, "dtype is f64");
    NmfParams back;
    MUST(nmf_get_params(model, &back));
    CHECK(back.n_components == k && back.init == NMF_INIT_NNDSVDA && back.batch_size == 256 &&
                  back.random_state == 0 && !back.random_state_is_none && back.alpha_h_is_same &&
              back.max_no_improvement_is_none,
          "parameters read back");

    /* ---- topics: the largest entries of each row of H ---------------- */
    double *h = xmalloc(k * m * sizeof(double));
    MUST(nmf_get_components_f64(model, h, k * m));
    bool h_ok = true;
    for (size_t i = 0; i < k * m; i++) h_ok = h_ok && h[i] >= 0 && isfinite(h[i]);
    CHECK(h_ok, "H is non-negative and finite");
    size_t top[8];
    size_t n_top = m < 8 ? m : 8;
    for (size_t c = 0; c < k; c++) {
        top_indices(h + c * m, m, top, n_top);
        printf("topic %2zu:", c);
        for (size_t t = 0; t < n_top; t++) printf(" %s", vocab[top[t]]);
        printf("\n");
    }
    bool w_ok = true;
    for (size_t i = 0; i < n * k; i++) w_ok = w_ok && w[i] >= 0 && isfinite(w[i]);
    CHECK(w_ok, "W is non-negative and finite");

    /* ---- transform and inverse_transform of the first documents ------ */
    size_t n_new = n < 20 ? n : 20;
    size_t nnz_new = x.indptr[n_new];
    double *w_new = xmalloc(n_new * k * sizeof(double));
    MUST(nmf_transform_csr_f64(model, x.indptr, x.indices, x.data, nnz_new, n_new, m, w_new,
                               n_new * k));
    double *x_hat = xmalloc(n_new * m * sizeof(double));
    MUST(nmf_inverse_transform_dense_f64(model, w_new, n_new, k, 0, x_hat, n_new * m));
    double num = 0, den = 0;
    for (size_t i = 0; i < n_new; i++) {
        double *dense = calloc(m, sizeof(double));
        for (size_t e = x.indptr[i]; e < x.indptr[i + 1]; e++) dense[x.indices[e]] = x.data[e];
        for (size_t j = 0; j < m; j++) {
            double d = dense[j] - x_hat[i * m + j];
            num += d * d;
            den += dense[j] * dense[j];
        }
        free(dense);
    }
    printf("transform + inverse_transform of %zu documents: relative error %.4f\n", n_new,
           sqrt(num / den));
    CHECK(num <= den, "W H is closer to X than zero is");

    /* ---- partial_fit on chunks ---------------------------------------- */
    NmfParams pp = p;
    pp.init = NMF_INIT_RANDOM;
    NmfModel *online = NULL;
    MUST(nmf_create(&pp, &online));
    size_t chunk = (n + 3) / 4, n_chunks = 0;
    size_t *indptr = xmalloc((chunk + 1) * sizeof(size_t));
    for (size_t start = 0; start < n; start += chunk, n_chunks++) {
        size_t rows = n - start < chunk ? n - start : chunk;
        /* A CSR chunk: the same indices/data from the chunk's first entry,
           with indptr rebased to start at 0. */
        size_t base = x.indptr[start];
        for (size_t r = 0; r <= rows; r++) indptr[r] = x.indptr[start + r] - base;
        MUST(nmf_partial_fit_csr_f64(online, indptr, x.indices + base, x.data + base,
                                     indptr[rows], rows, m, NULL, NULL, 0));
    }
    free(indptr);
    MUST(nmf_get_n_steps(online, &n_steps));
    CHECK(n_steps == n_chunks, "one step per partial_fit call");
    CHECK(nmf_get_n_iter(online, &n_iter) == NMF_ERR_NOT_AVAILABLE,
          "n_iter is not set by partial_fit");
    MUST(nmf_transform_csr_f64(online, x.indptr, x.indices, x.data, nnz_new, n_new, m, w_new,
                               n_new * k));
    printf("partial_fit: %zu chunks of up to %zu documents, n_steps %zu\n", n_chunks, chunk,
           n_steps);

    /* ---- save -> load -> transform: a model that outlives the process ---- */
    const char *tmp = getenv("TMPDIR");
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s/nmf_example_%ld.safetensors",
             tmp && *tmp ? tmp : "/tmp", (long)getpid());
    MUST(nmf_save(online, model_path));
    NmfModel *loaded = NULL;
    MUST(nmf_load(model_path, &loaded));
    double *w_loaded = xmalloc(n_new * k * sizeof(double));
    MUST(nmf_transform_csr_f64(loaded, x.indptr, x.indices, x.data, nnz_new, n_new, m, w_loaded,
                               n_new * k));
    CHECK(memcmp(w_loaded, w_new, n_new * k * sizeof(double)) == 0,
          "the loaded model transforms exactly as the saved one");
    size_t loaded_steps = 0;
    MUST(nmf_get_n_steps(loaded, &loaded_steps));
    CHECK(loaded_steps == n_steps, "n_steps survives save/load");
    /* Both continue the stream identically (exact resume). */
    size_t first = x.indptr[1];
    MUST(nmf_partial_fit_csr_f64(online, x.indptr, x.indices, x.data, first, 1, m, NULL, NULL, 0));
    MUST(nmf_partial_fit_csr_f64(loaded, x.indptr, x.indices, x.data, first, 1, m, NULL, NULL, 0));
    double *h_a = xmalloc(k * m * sizeof(double)), *h_b = xmalloc(k * m * sizeof(double));
    MUST(nmf_get_components_f64(online, h_a, k * m));
    MUST(nmf_get_components_f64(loaded, h_b, k * m));
    CHECK(memcmp(h_a, h_b, k * m * sizeof(double)) == 0, "a loaded model resumes bit for bit");
    printf("save -> load -> transform: %s, identical W and resumed H\n", model_path);

    /* In memory: ask the size, then save into a buffer and load from it. */
    size_t len = 0;
    MUST(nmf_save_buffer(model, NULL, 0, &len));
    unsigned char *buf = xmalloc(len);
    CHECK(nmf_save_buffer(model, buf, len - 1, &len) == NMF_ERR_BUFFER_LENGTH,
          "a short buffer is refused");
    MUST(nmf_save_buffer(model, buf, len, &len));
    NmfModel *from_buf = NULL;
    MUST(nmf_load_buffer(buf, len, &from_buf));
    MUST(nmf_transform_csr_f64(model, x.indptr, x.indices, x.data, nnz_new, n_new, m, w_new,
                               n_new * k));
    MUST(nmf_transform_csr_f64(from_buf, x.indptr, x.indices, x.data, nnz_new, n_new, m,
                               w_loaded, n_new * k));
    CHECK(memcmp(w_loaded, w_new, n_new * k * sizeof(double)) == 0,
          "a model loaded from a buffer transforms exactly as the saved one");
    buf[len / 2] ^= 0x01; /* one flipped bit */
    NmfModel *damaged = (NmfModel *)buf; /* must be reset to NULL */
    NmfStatus ls = nmf_load_buffer(buf, len, &damaged);
    CHECK(ls == NMF_ERR_CORRUPT_MODEL && damaged == NULL, "a damaged model is refused");
    printf("damaged model -> %s: %s\n", nmf_status_str(ls), nmf_last_error());
    remove(model_path);
    ls = nmf_load(model_path, &damaged);
    CHECK(ls == NMF_ERR_IO, "a missing file is an I/O error");
    printf("missing file -> %s: %s\n", nmf_status_str(ls), nmf_last_error());
    nmf_free(from_buf);
    nmf_free(loaded);
    free(buf);
    free(h_a);
    free(h_b);
    free(w_loaded);

    /* ---- error paths ----------------------------------------------------- */
    NmfStatus s;
    s = nmf_fit_csr_f64(NULL, x.indptr, x.indices, x.data, x.nnz, n, m);
    CHECK(s == NMF_ERR_NULL_POINTER, "NULL handle");
    CHECK(strlen(nmf_last_error()) > 0, "a message for the NULL handle");
    printf("NULL handle -> %s: %s\n", nmf_status_str(s), nmf_last_error());

    s = nmf_transform_csr_f64(model, x.indptr, x.indices, x.data, nnz_new, n_new, m, w_new,
                              n_new * k - 1);
    CHECK(s == NMF_ERR_BUFFER_LENGTH, "output buffer one element short");
    printf("short buffer -> %s: %s\n", nmf_status_str(s), nmf_last_error());
    s = nmf_get_components_f64(model, h, k * m - 1);
    CHECK(s == NMF_ERR_BUFFER_LENGTH, "components buffer one element short");

    NmfModel *unfitted = NULL;
    MUST(nmf_create(&p, &unfitted));
    s = nmf_transform_csr_f64(unfitted, x.indptr, x.indices, x.data, nnz_new, n_new, m, w_new,
                              n_new * k);
    CHECK(s == NMF_ERR_NOT_FITTED, "transform before fit");
    printf("unfitted transform -> %s: %s\n", nmf_status_str(s), nmf_last_error());

    double neg[6] = {1, 2, 0, 0.5, -1, 3};
    s = nmf_fit_dense_f64(unfitted, neg, 2, 3, 0);
    CHECK(s == NMF_ERR_NEGATIVE_DATA, "negative data");
    printf("negative data -> %s: %s\n", nmf_status_str(s), nmf_last_error());
    MUST(nmf_is_fitted(unfitted, &fitted));
    CHECK(!fitted, "a failed fit leaves the model unfitted");

    float xf[6] = {1, 2, 0, 0.5f, 1, 3};
    float wf[2 * 64];
    s = nmf_transform_dense_f32(model, xf, 2, 3, 0, wf, 2 * k);
    CHECK(s == NMF_ERR_DTYPE_MISMATCH, "f32 data on a model fitted with f64");
    printf("dtype mismatch -> %s: %s\n", nmf_status_str(s), nmf_last_error());

    double small[3 * 2] = {1, 0, 0, 1, 1, 1};
    s = nmf_transform_dense_f64(model, small, 3, 2, 0, w_new, n_new * k);
    CHECK(s == NMF_ERR_FEATURE_MISMATCH, "wrong number of features");

    size_t bad_indptr[3] = {0, 2, 3};
    size_t bad_indices[3] = {0, 0, 1}; /* column 0 twice in row 0 */
    double bad_data[3] = {1, 2, 3};
    s = nmf_fit_csr_f64(unfitted, bad_indptr, bad_indices, bad_data, 3, 2, 3);
    CHECK(s == NMF_ERR_INVALID_CSR, "malformed CSR");

    NmfParams bad = nmf_params_default();
    bad.batch_size = 0;
    NmfModel *never = (NmfModel *)&bad; /* must be reset to NULL */
    s = nmf_create(&bad, &never);
    CHECK(s == NMF_ERR_INVALID_PARAM && never == NULL, "batch_size = 0 is rejected");
    printf("bad parameter -> %s: %s\n", nmf_status_str(s), nmf_last_error());

    CHECK(strcmp(nmf_status_str(NMF_ERR_PANIC), "NMF_ERR_PANIC") == 0, "status names");
    CHECK(strcmp(nmf_status_str(12345), "NMF_UNKNOWN_STATUS") == 0, "unknown status name");
    MUST(nmf_get_n_components(model, &got_k));
    CHECK(strcmp(nmf_last_error(), "") == 0, "a success clears the message");

    nmf_free(NULL);
    nmf_free(unfitted);
    nmf_free(online);
    nmf_free(model);
    free(x_hat);
    free(w_new);
    free(h);
    free(w);
    for (size_t i = 0; i < m; i++) free(vocab[i]);
    free(vocab);
    free_csr(&x);

    printf("c-example: %d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
