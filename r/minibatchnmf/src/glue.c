/*
 * .Call glue between R and minibatchnmf's C ABI. No numerics here: arrays
 * are moved into the layouts the ABI reads (row-major dense, CSR with size_t
 * indices) and results back into R matrices; statuses become R errors.
 *
 * Temporary buffers come from R_alloc, reclaimed by R even when a call ends
 * in an error.
 */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <stdint.h>
#include <string.h>

#include <minibatchnmf.h>

static void stop_on(NmfStatus s) {
    if (s != NMF_OK) Rf_error("%s (%s)", nmf_last_error(), nmf_status_str(s));
}

static NmfModel *model_of(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP) Rf_error("not a minibatchnmf model handle");
    NmfModel *m = (NmfModel *)R_ExternalPtrAddr(ptr);
    if (!m) Rf_error("minibatchnmf model handle is NULL (released, or restored without its saved bytes)");
    return m;
}

static void finalize(SEXP ptr) {
    nmf_free((NmfModel *)R_ExternalPtrAddr(ptr));
    R_ClearExternalPtr(ptr);
}

static SEXP wrap(NmfModel *m) {
    SEXP ptr = PROTECT(R_MakeExternalPtr(m, R_NilValue, R_NilValue));
    R_RegisterCFinalizerEx(ptr, finalize, TRUE);
    UNPROTECT(1);
    return ptr;
}

static double num(SEXP list, const char *name) {
    SEXP names = Rf_getAttrib(list, R_NamesSymbol);
    for (R_xlen_t i = 0; i < XLENGTH(list); i++)
        if (!strcmp(CHAR(STRING_ELT(names, i)), name)) return Rf_asReal(VECTOR_ELT(list, i));
    Rf_error("internal: parameter '%s' missing", name);
    return 0;
}

static size_t count(SEXP list, const char *name) {
    double v = num(list, name);
    if (!(v >= 0) || v > 1e15) Rf_error("'%s' must be a non-negative whole number", name);
    return (size_t)v;
}

/* The NmfParams of a named list prepared by R (R/params.R: c_params). */
static NmfParams params_of(SEXP p) {
    NmfParams q = nmf_params_default();
    q.n_components_mode = (NmfNComponentsMode)(int)num(p, "n_components_mode");
    q.n_components = count(p, "n_components");
    q.init = (NmfInit)(int)num(p, "init");
    q.batch_size = count(p, "batch_size");
    q.beta_loss = num(p, "beta_loss");
    q.tol = num(p, "tol");
    q.max_no_improvement = count(p, "max_no_improvement");
    q.max_no_improvement_is_none = num(p, "max_no_improvement_is_none") != 0;
    q.max_iter = count(p, "max_iter");
    q.alpha_w = num(p, "alpha_w");
    q.alpha_h = num(p, "alpha_h");
    q.alpha_h_is_same = num(p, "alpha_h_is_same") != 0;
    q.l1_ratio = num(p, "l1_ratio");
    q.forget_factor = num(p, "forget_factor");
    q.fresh_restarts = num(p, "fresh_restarts") != 0;
    q.fresh_restarts_max_iter = count(p, "fresh_restarts_max_iter");
    q.transform_max_iter = count(p, "transform_max_iter");
    q.transform_max_iter_is_none = num(p, "transform_max_iter_is_none") != 0;
    double seed = num(p, "random_state");
    q.random_state_is_none = num(p, "random_state_is_none") != 0;
    if (!q.random_state_is_none) {
        if (!(seed >= 0 && seed <= 4294967295.0)) Rf_error("seed must be in [0, 2^32 - 1]");
        q.random_state = (uint32_t)seed;
    }
    q.verbose = num(p, "verbose") != 0;
    return q;
}

/* Data: either a double matrix (dense, column-major) or a list(p, j, x, n, m)
   holding X as CSR (the CSC storage of t(X), built in R without densifying). */
typedef struct {
    int csr;
    size_t n, m;
    const double *dense; /* row-major */
    size_t *indptr, *indices;
    const double *data;
    size_t nnz;
} Data;

static Data data_of(SEXP x) {
    Data d;
    memset(&d, 0, sizeof d);
    if (Rf_isMatrix(x)) {
        if (!Rf_isReal(x)) Rf_error("internal: dense data must be a double matrix");
        d.n = (size_t)Rf_nrows(x);
        d.m = (size_t)Rf_ncols(x);
        double *rm = (double *)R_alloc(d.n * d.m + 1, sizeof(double));
        const double *cm = REAL(x);
        for (size_t j = 0; j < d.m; j++)
            for (size_t i = 0; i < d.n; i++) rm[i * d.m + j] = cm[j * d.n + i];
        d.dense = rm;
        return d;
    }
    if (TYPEOF(x) != VECSXP || XLENGTH(x) != 5) Rf_error("internal: expected list(p, j, x, n, m)");
    SEXP p = VECTOR_ELT(x, 0), j = VECTOR_ELT(x, 1), v = VECTOR_ELT(x, 2);
    if (TYPEOF(p) != INTSXP || TYPEOF(j) != INTSXP || TYPEOF(v) != REALSXP)
        Rf_error("internal: CSR parts must be integer, integer, double");
    d.csr = 1;
    d.n = (size_t)Rf_asReal(VECTOR_ELT(x, 3));
    d.m = (size_t)Rf_asReal(VECTOR_ELT(x, 4));
    d.nnz = (size_t)XLENGTH(v);
    if ((size_t)XLENGTH(p) != d.n + 1 || (size_t)XLENGTH(j) != d.nnz)
        Rf_error("internal: CSR parts of inconsistent lengths");
    d.indptr = (size_t *)R_alloc(d.n + 1, sizeof(size_t));
    d.indices = (size_t *)R_alloc(d.nnz + 1, sizeof(size_t));
    for (size_t i = 0; i <= d.n; i++) {
        int e = INTEGER(p)[i];
        if (e < 0) Rf_error("invalid sparse matrix: negative pointer");
        d.indptr[i] = (size_t)e;
    }
    for (size_t i = 0; i < d.nnz; i++) {
        int e = INTEGER(j)[i];
        if (e < 0) Rf_error("invalid sparse matrix: negative index");
        d.indices[i] = (size_t)e;
    }
    d.data = REAL(v);
    return d;
}

/* A column-major R matrix from a row-major array. */
static SEXP to_matrix(const double *rm, size_t n, size_t m) {
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int)n, (int)m));
    double *cm = REAL(out);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) cm[j * n + i] = rm[i * m + j];
    UNPROTECT(1);
    return out;
}

/* Row-major copy of an optional init matrix (R_NilValue -> NULL). */
static const double *init_of(SEXP a, size_t *rows, size_t *cols) {
    if (Rf_isNull(a)) return NULL;
    Data d = data_of(a);
    *rows = d.n;
    *cols = d.m;
    return d.dense;
}

static size_t get_size(NmfStatus (*fn)(const NmfModel *, size_t *), NmfModel *m) {
    size_t v = 0;
    stop_on(fn(m, &v));
    return v;
}

static SEXP c_create(SEXP params) {
    NmfParams p = params_of(params);
    NmfModel *m = NULL;
    stop_on(nmf_create(&p, &m));
    return wrap(m);
}

/* The model's parameters as the named list params_of() reads. */
static SEXP c_get_params(SEXP model) {
    NmfParams q;
    stop_on(nmf_get_params(model_of(model), &q));
    const char *names[] = {"n_components_mode", "n_components", "init", "batch_size", "beta_loss", "tol",
                           "max_no_improvement", "max_no_improvement_is_none", "max_iter", "alpha_w",
                           "alpha_h", "alpha_h_is_same", "l1_ratio", "forget_factor", "fresh_restarts",
                           "fresh_restarts_max_iter", "transform_max_iter", "transform_max_iter_is_none",
                           "random_state", "random_state_is_none", "verbose"};
    double v[] = {(double)q.n_components_mode, (double)q.n_components, (double)q.init, (double)q.batch_size,
                  q.beta_loss, q.tol, (double)q.max_no_improvement, q.max_no_improvement_is_none,
                  (double)q.max_iter, q.alpha_w, q.alpha_h, q.alpha_h_is_same, q.l1_ratio, q.forget_factor,
                  q.fresh_restarts, (double)q.fresh_restarts_max_iter, (double)q.transform_max_iter,
                  q.transform_max_iter_is_none, (double)q.random_state, q.random_state_is_none, q.verbose};
    const int n = (int)(sizeof v / sizeof v[0]);
    SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
    SEXP nms = PROTECT(Rf_allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) {
        SET_VECTOR_ELT(out, i, Rf_ScalarReal(v[i]));
        SET_STRING_ELT(nms, i, Rf_mkChar(names[i]));
    }
    Rf_setAttrib(out, R_NamesSymbol, nms);
    UNPROTECT(2);
    return out;
}

static SEXP c_set_params(SEXP model, SEXP params) {
    NmfParams p = params_of(params);
    stop_on(nmf_set_params(model_of(model), &p));
    return R_NilValue;
}

/* One parameter by name (nmf_set_param), e.g. ("solver", "cd"): the
 * parameters beyond scikit-learn's, validated by the library. */
static SEXP c_set_param(SEXP model, SEXP name, SEXP value) {
    if (!Rf_isString(name) || XLENGTH(name) != 1 || !Rf_isString(value) || XLENGTH(value) != 1)
        Rf_error("parameter name and value must be single strings");
    stop_on(nmf_set_param(model_of(model), CHAR(STRING_ELT(name, 0)), CHAR(STRING_ELT(value, 0))));
    return R_NilValue;
}

/* One parameter by name as nmf_set_param spells it (nmf_get_param). */
static SEXP c_get_param(SEXP model, SEXP name) {
    if (!Rf_isString(name) || XLENGTH(name) != 1) Rf_error("parameter name must be a single string");
    NmfModel *m = model_of(model);
    const char *nm = CHAR(STRING_ELT(name, 0));
    size_t len = 0;
    stop_on(nmf_get_param_len(m, nm, &len));
    char *buf = R_alloc(len + 1, 1);
    stop_on(nmf_get_param(m, nm, buf, len + 1));
    return Rf_mkString(buf);
}

/* fit_transform(model, X, W, H, k): W (n x k); k is the expected width. */
static SEXP c_fit_transform(SEXP model, SEXP x, SEXP w0, SEXP h0, SEXP k_) {
    NmfModel *m = model_of(model);
    Data d = data_of(x);
    size_t wr = 0, wc = 0, hr = 0, hc = 0;
    const double *w_init = init_of(w0, &wr, &wc), *h_init = init_of(h0, &hr, &hc);
    if (w_init && (wr != d.n || (h_init && wc != hr)))
        Rf_error("W must be %zu x %zu (rows of X x rows of H)", d.n, h_init ? hr : wc);
    if (h_init && hc != d.m) Rf_error("H must have %zu columns (the columns of X)", d.m);
    size_t kinit = h_init ? hr : (w_init ? wc : 0);
    size_t k = (size_t)Rf_asReal(k_);
    double *w = (double *)R_alloc(d.n * k + 1, sizeof(double));
    if (d.csr)
        stop_on(nmf_fit_transform_csr_f64(m, d.indptr, d.indices, d.data, d.nnz, d.n, d.m, w_init,
                                          h_init, kinit, w, d.n * k));
    else
        stop_on(nmf_fit_transform_dense_f64(m, d.dense, d.n, d.m, 0, w_init, h_init, kinit, w, d.n * k));
    return to_matrix(w, d.n, get_size(nmf_get_n_components, m));
}

/* A model fitted on float32 data (loaded from a file written by Python, the
   command line or C): its calls take and give float, converted here. */
static int is_f32(NmfModel *m) {
    NmfDtype t = NMF_DTYPE_NONE;
    stop_on(nmf_get_dtype(m, &t));
    return t == NMF_DTYPE_F32;
}

static float *to_f32(const double *v, size_t n) {
    float *o = (float *)R_alloc(n + 1, sizeof(float));
    for (size_t i = 0; i < n; i++) o[i] = (float)v[i];
    return o;
}

static void from_f32(const float *v, double *o, size_t n) {
    for (size_t i = 0; i < n; i++) o[i] = (double)v[i];
}

/* X's values as float (dense row-major, or the CSR values). */
static const float *values_f32(const Data *d) {
    return d->csr ? to_f32(d->data, d->nnz) : to_f32(d->dense, d->n * d->m);
}

static SEXP c_partial_fit(SEXP model, SEXP x, SEXP w0, SEXP h0) {
    NmfModel *m = model_of(model);
    Data d = data_of(x);
    size_t wr = 0, wc = 0, hr = 0, hc = 0;
    const double *w_init = init_of(w0, &wr, &wc), *h_init = init_of(h0, &hr, &hc);
    if (w_init && (wr != d.n || (h_init && wc != hr)))
        Rf_error("W must be %zu x %zu (rows of X x rows of H)", d.n, h_init ? hr : wc);
    if (h_init && hc != d.m) Rf_error("H must have %zu columns (the columns of X)", d.m);
    size_t kinit = h_init ? hr : (w_init ? wc : 0);
    if (is_f32(m)) {
        /* Fitted already: W and H are used by the first call only. */
        const float *v = values_f32(&d);
        if (d.csr)
            stop_on(nmf_partial_fit_csr_f32(m, d.indptr, d.indices, v, d.nnz, d.n, d.m, NULL, NULL, 0));
        else
            stop_on(nmf_partial_fit_dense_f32(m, v, d.n, d.m, 0, NULL, NULL, 0));
        return R_NilValue;
    }
    if (d.csr)
        stop_on(nmf_partial_fit_csr_f64(m, d.indptr, d.indices, d.data, d.nnz, d.n, d.m, w_init, h_init,
                                        kinit));
    else
        stop_on(nmf_partial_fit_dense_f64(m, d.dense, d.n, d.m, 0, w_init, h_init, kinit));
    return R_NilValue;
}

static SEXP c_transform(SEXP model, SEXP x) {
    NmfModel *m = model_of(model);
    Data d = data_of(x);
    size_t k = get_size(nmf_get_n_components, m);
    double *w = (double *)R_alloc(d.n * k + 1, sizeof(double));
    if (is_f32(m)) {
        const float *v = values_f32(&d);
        float *wf = (float *)R_alloc(d.n * k + 1, sizeof(float));
        if (d.csr)
            stop_on(nmf_transform_csr_f32(m, d.indptr, d.indices, v, d.nnz, d.n, d.m, wf, d.n * k));
        else
            stop_on(nmf_transform_dense_f32(m, v, d.n, d.m, 0, wf, d.n * k));
        from_f32(wf, w, d.n * k);
        return to_matrix(w, d.n, k);
    }
    if (d.csr)
        stop_on(nmf_transform_csr_f64(m, d.indptr, d.indices, d.data, d.nnz, d.n, d.m, w, d.n * k));
    else
        stop_on(nmf_transform_dense_f64(m, d.dense, d.n, d.m, 0, w, d.n * k));
    return to_matrix(w, d.n, k);
}

static SEXP c_inverse_transform(SEXP model, SEXP w) {
    NmfModel *m = model_of(model);
    Data d = data_of(w);
    size_t f = get_size(nmf_get_n_features_in, m);
    double *x = (double *)R_alloc(d.n * f + 1, sizeof(double));
    if (is_f32(m)) {
        const float *v = values_f32(&d);
        float *xf = (float *)R_alloc(d.n * f + 1, sizeof(float));
        if (d.csr)
            stop_on(nmf_inverse_transform_csr_f32(m, d.indptr, d.indices, v, d.nnz, d.n, d.m, xf, d.n * f));
        else
            stop_on(nmf_inverse_transform_dense_f32(m, v, d.n, d.m, 0, xf, d.n * f));
        from_f32(xf, x, d.n * f);
        return to_matrix(x, d.n, f);
    }
    if (d.csr)
        stop_on(nmf_inverse_transform_csr_f64(m, d.indptr, d.indices, d.data, d.nnz, d.n, d.m, x, d.n * f));
    else
        stop_on(nmf_inverse_transform_dense_f64(m, d.dense, d.n, d.m, 0, x, d.n * f));
    return to_matrix(x, d.n, f);
}

static SEXP c_components(SEXP model) {
    NmfModel *m = model_of(model);
    size_t k = get_size(nmf_get_n_components, m), f = get_size(nmf_get_n_features_in, m);
    double *h = (double *)R_alloc(k * f + 1, sizeof(double));
    if (is_f32(m)) {
        float *hf = (float *)R_alloc(k * f + 1, sizeof(float));
        stop_on(nmf_get_components_f32(m, hf, k * f));
        from_f32(hf, h, k * f);
    } else {
        stop_on(nmf_get_components_f64(m, h, k * f));
    }
    return to_matrix(h, k, f);
}

/* list(fitted, n_components, n_features, n_steps, n_iter, reconstruction_err,
   stop_reason, convergence_warning, ignored_init_warning); NA where not available. */
static SEXP c_info(SEXP model) {
    NmfModel *m = model_of(model);
    const char *names[] = {"fitted", "n_components", "n_features", "n_steps", "n_iter",
                           "reconstruction_err", "stop_reason", "convergence_warning",
                           "ignored_init_warning"};
    const int n = 9;
    SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
    SEXP nms = PROTECT(Rf_allocVector(STRSXP, n));
    for (int i = 0; i < n; i++) SET_STRING_ELT(nms, i, Rf_mkChar(names[i]));
    Rf_setAttrib(out, R_NamesSymbol, nms);
    bool fitted = false;
    stop_on(nmf_is_fitted(m, &fitted));
    SET_VECTOR_ELT(out, 0, Rf_ScalarLogical(fitted));
    for (int i = 1; i < n; i++) SET_VECTOR_ELT(out, i, Rf_ScalarLogical(NA_LOGICAL));
    if (fitted) {
        SET_VECTOR_ELT(out, 1, Rf_ScalarReal((double)get_size(nmf_get_n_components, m)));
        SET_VECTOR_ELT(out, 2, Rf_ScalarReal((double)get_size(nmf_get_n_features_in, m)));
        SET_VECTOR_ELT(out, 3, Rf_ScalarReal((double)get_size(nmf_get_n_steps, m)));
        NmfFitInfo info;
        if (nmf_get_fit_info(m, &info) == NMF_OK) {
            const char *reasons[] = {"max_iter", "small_h_change", "no_improvement"};
            SET_VECTOR_ELT(out, 4, Rf_ScalarReal((double)info.n_iter));
            SET_VECTOR_ELT(out, 5, Rf_ScalarReal(info.reconstruction_err));
            if ((int)info.stop_reason >= 0 && (int)info.stop_reason < 3)
                SET_VECTOR_ELT(out, 6, Rf_mkString(reasons[info.stop_reason]));
            SET_VECTOR_ELT(out, 7, Rf_ScalarLogical(info.convergence_warning));
            SET_VECTOR_ELT(out, 8, Rf_ScalarLogical(info.ignored_init_warning));
        }
    }
    UNPROTECT(2);
    return out;
}

static SEXP c_set_threads(SEXP n) {
    double v = Rf_asReal(n);
    if (!(v >= 0) || v > 4096) Rf_error("threads must be a whole number in [0, 4096]");
    stop_on(nmf_set_num_threads((size_t)v));
    return Rf_ScalarReal((double)nmf_get_num_threads());
}

static SEXP c_get_threads(void) { return Rf_ScalarReal((double)nmf_get_num_threads()); }

static SEXP c_version(void) { return Rf_mkString(nmf_version()); }

static SEXP c_has_persist(void) {
#ifdef MBNMF_HAVE_PERSIST
    return Rf_ScalarLogical(TRUE);
#else
    return Rf_ScalarLogical(FALSE);
#endif
}

/* The model in the library's saving format (issue 7), as a raw vector. */
static SEXP c_save(SEXP model) {
#ifdef MBNMF_HAVE_PERSIST
    NmfModel *m = model_of(model);
    size_t len = 0;
    stop_on(nmf_save_buffer(m, NULL, 0, &len));
    SEXP out = PROTECT(Rf_allocVector(RAWSXP, (R_xlen_t)len));
    size_t written = 0;
    stop_on(nmf_save_buffer(m, RAW(out), len, &written));
    if (written != len) Rf_error("nmf_save_buffer wrote %zu bytes, announced %zu", written, len);
    UNPROTECT(1);
    return out;
#else
    (void)model;
    Rf_error("this libminibatchnmf has no nmf_save_buffer (the saving format)");
    return R_NilValue;
#endif
}

static SEXP c_load(SEXP bytes) {
#ifdef MBNMF_HAVE_PERSIST
    if (TYPEOF(bytes) != RAWSXP) Rf_error("expected a raw vector");
    NmfModel *m = NULL;
    stop_on(nmf_load_buffer(RAW(bytes), (size_t)XLENGTH(bytes), &m));
    return wrap(m);
#else
    (void)bytes;
    Rf_error("this libminibatchnmf has no nmf_load_buffer (the saving format)");
    return R_NilValue;
#endif
}

/* Whether the library has missing values (the parameter "missing") and the
 * rank's cross-validation: they arrived together (configure: MBNMF_HAVE_CV). */
static SEXP c_has_missing(void) {
#ifdef MBNMF_HAVE_CV
    return Rf_ScalarLogical(TRUE);
#else
    return Rf_ScalarLogical(FALSE);
#endif
}

/* cross_validate_rank(model, X, ks, test_fraction, n_repeats, seed):
 * list(scores = n_ks x n_repeats matrix, best_k). The model supplies every
 * other parameter and is not modified. */
static SEXP c_cross_validate_rank(SEXP model, SEXP x, SEXP ks_, SEXP frac_, SEXP reps_, SEXP seed_) {
#ifdef MBNMF_HAVE_CV
    NmfModel *m = model_of(model);
    Data d = data_of(x);
    if (!Rf_isReal(ks_)) Rf_error("internal: k must be a double vector");
    size_t n_ks = (size_t)XLENGTH(ks_);
    size_t *ks = (size_t *)R_alloc(n_ks + 1, sizeof(size_t));
    for (size_t i = 0; i < n_ks; i++) {
        double v = REAL(ks_)[i];
        if (!(v >= 1) || v > 1e15) Rf_error("'k' must hold whole numbers >= 1");
        ks[i] = (size_t)v;
    }
    double reps = Rf_asReal(reps_), seed = Rf_asReal(seed_);
    if (!(reps >= 1) || reps > 1e6) Rf_error("'n_repeats' must be a whole number >= 1");
    if (!(seed >= 0) || seed > 9007199254740992.0) Rf_error("'seed' must be a whole number >= 0");
    size_t n_repeats = (size_t)reps;
    double *scores = (double *)R_alloc(n_ks * n_repeats + 1, sizeof(double));
    size_t best = 0;
    if (d.csr)
        stop_on(nmf_cross_validate_rank_csr_f64(m, d.indptr, d.indices, d.data, d.nnz, d.n, d.m, ks, n_ks,
                                                Rf_asReal(frac_), n_repeats, (uint64_t)seed, scores, &best));
    else
        stop_on(nmf_cross_validate_rank_dense_f64(m, d.dense, d.n, d.m, ks, n_ks, Rf_asReal(frac_), n_repeats,
                                                  (uint64_t)seed, scores, &best));
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
    SEXP nms = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_VECTOR_ELT(out, 0, to_matrix(scores, n_ks, n_repeats));
    SET_VECTOR_ELT(out, 1, Rf_ScalarReal((double)best));
    SET_STRING_ELT(nms, 0, Rf_mkChar("scores"));
    SET_STRING_ELT(nms, 1, Rf_mkChar("best_k"));
    Rf_setAttrib(out, R_NamesSymbol, nms);
    UNPROTECT(2);
    return out;
#else
    (void)model, (void)x, (void)ks_, (void)frac_, (void)reps_, (void)seed_;
    Rf_error("this libminibatchnmf has no nmf_cross_validate_rank (rank by cross-validation)");
    return R_NilValue;
#endif
}

static const R_CallMethodDef methods[] = {
    {"mbnmf_c_create", (DL_FUNC)&c_create, 1},
    {"mbnmf_c_set_params", (DL_FUNC)&c_set_params, 2},
    {"mbnmf_c_get_params", (DL_FUNC)&c_get_params, 1},
    {"mbnmf_c_set_param", (DL_FUNC)&c_set_param, 3},
    {"mbnmf_c_get_param", (DL_FUNC)&c_get_param, 2},
    {"mbnmf_c_fit_transform", (DL_FUNC)&c_fit_transform, 5},
    {"mbnmf_c_partial_fit", (DL_FUNC)&c_partial_fit, 4},
    {"mbnmf_c_transform", (DL_FUNC)&c_transform, 2},
    {"mbnmf_c_inverse_transform", (DL_FUNC)&c_inverse_transform, 2},
    {"mbnmf_c_components", (DL_FUNC)&c_components, 1},
    {"mbnmf_c_info", (DL_FUNC)&c_info, 1},
    {"mbnmf_c_set_threads", (DL_FUNC)&c_set_threads, 1},
    {"mbnmf_c_get_threads", (DL_FUNC)&c_get_threads, 0},
    {"mbnmf_c_version", (DL_FUNC)&c_version, 0},
    {"mbnmf_c_has_persist", (DL_FUNC)&c_has_persist, 0},
    {"mbnmf_c_save", (DL_FUNC)&c_save, 1},
    {"mbnmf_c_load", (DL_FUNC)&c_load, 1},
    {"mbnmf_c_has_missing", (DL_FUNC)&c_has_missing, 0},
    {"mbnmf_c_cross_validate_rank", (DL_FUNC)&c_cross_validate_rank, 6},
    {NULL, NULL, 0},
};

void R_init_minibatchnmf(DllInfo *dll) {
    R_registerRoutines(dll, NULL, methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
}
