/*
 * R glue for minibatchnmf's C API, called with .Call(). Build with
 *   R CMD SHLIB nmf_glue.c  (PKG_CPPFLAGS=-I<include dir>, PKG_LIBS=-lminibatchnmf ...)
 *
 * R matrices are column-major; the C API takes row-major arrays, so the glue
 * transposes on the way in and out. Temporary buffers come from R_alloc and
 * are reclaimed by R even when a call ends in an error.
 */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <string.h>

#include <minibatchnmf.h>

static void stop_on(NmfStatus s) {
    if (s != NMF_OK) Rf_error("%s: %s", nmf_status_str(s), nmf_last_error());
}

static NmfModel *model_of(SEXP ptr) {
    if (TYPEOF(ptr) != EXTPTRSXP) Rf_error("not an NMF model");
    NmfModel *m = (NmfModel *)R_ExternalPtrAddr(ptr);
    if (!m) Rf_error("NMF model already released");
    return m;
}

static void finalize(SEXP ptr) {
    NmfModel *m = (NmfModel *)R_ExternalPtrAddr(ptr);
    nmf_free(m);
    R_ClearExternalPtr(ptr);
}

/* Row-major copy of an R numeric matrix. */
static double *row_major(SEXP x, size_t *n, size_t *m) {
    if (!Rf_isReal(x) || !Rf_isMatrix(x)) Rf_error("expected a numeric (double) matrix");
    *n = (size_t)Rf_nrows(x);
    *m = (size_t)Rf_ncols(x);
    double *out = (double *)R_alloc(*n * *m + 1, sizeof(double));
    const double *col_major = REAL(x);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < *m; j++) out[i * *m + j] = col_major[j * *n + i];
    return out;
}

/* An R matrix from a row-major array. */
static SEXP to_matrix(const double *rm, size_t n, size_t m) {
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int)n, (int)m));
    double *cm = REAL(out);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) cm[j * n + i] = rm[i * m + j];
    UNPROTECT(1);
    return out;
}

static size_t n_components(NmfModel *m) {
    size_t k = 0;
    stop_on(nmf_get_n_components(m, &k));
    return k;
}

/* rnmf_create(k, init, seed, batch_size, max_iter): a model (external pointer). */
static SEXP rnmf_create(SEXP k, SEXP init, SEXP seed, SEXP batch_size, SEXP max_iter) {
    NmfParams p = nmf_params_default();
    p.n_components_mode = NMF_N_COMPONENTS_FIXED;
    p.n_components = (size_t)Rf_asInteger(k);
    const char *name = CHAR(STRING_ELT(init, 0));
    if (!strcmp(name, "random")) p.init = NMF_INIT_RANDOM;
    else if (!strcmp(name, "nndsvd")) p.init = NMF_INIT_NNDSVD;
    else if (!strcmp(name, "nndsvda")) p.init = NMF_INIT_NNDSVDA;
    else if (!strcmp(name, "nndsvdar")) p.init = NMF_INIT_NNDSVDAR;
    else Rf_error("unknown init '%s'", name);
    p.random_state_is_none = false;
    p.random_state = (uint32_t)Rf_asInteger(seed);
    p.batch_size = (size_t)Rf_asInteger(batch_size);
    p.max_iter = (size_t)Rf_asInteger(max_iter);
    NmfModel *m = NULL;
    stop_on(nmf_create(&p, &m));
    SEXP ptr = PROTECT(R_MakeExternalPtr(m, R_NilValue, R_NilValue));
    R_RegisterCFinalizerEx(ptr, finalize, TRUE);
    UNPROTECT(1);
    return ptr;
}

/* An R external pointer owning a handle (freed by the finalizer). */
static SEXP wrap(NmfModel *m) {
    SEXP ptr = PROTECT(R_MakeExternalPtr(m, R_NilValue, R_NilValue));
    R_RegisterCFinalizerEx(ptr, finalize, TRUE);
    UNPROTECT(1);
    return ptr;
}

/* rnmf_save(model, path): writes the model file (atomically). */
static SEXP rnmf_save(SEXP model, SEXP path) {
    stop_on(nmf_save(model_of(model), CHAR(STRING_ELT(path, 0))));
    return R_NilValue;
}

/* rnmf_load(path): a model from a file. */
static SEXP rnmf_load(SEXP path) {
    NmfModel *m = NULL;
    stop_on(nmf_load(CHAR(STRING_ELT(path, 0)), &m));
    return wrap(m);
}

/* rnmf_serialize(model): the model file as a raw vector. */
static SEXP rnmf_serialize(SEXP model) {
    size_t len = 0;
    stop_on(nmf_save_buffer(model_of(model), NULL, 0, &len));
    SEXP out = PROTECT(Rf_allocVector(RAWSXP, (R_xlen_t)len));
    NmfStatus s = nmf_save_buffer(model_of(model), RAW(out), len, &len);
    UNPROTECT(1);
    stop_on(s);
    return out;
}

/* rnmf_unserialize(raw): a model from a raw vector. */
static SEXP rnmf_unserialize(SEXP raw) {
    if (TYPEOF(raw) != RAWSXP) Rf_error("expected a raw vector");
    NmfModel *m = NULL;
    stop_on(nmf_load_buffer(RAW(raw), (size_t)XLENGTH(raw), &m));
    return wrap(m);
}

/* rnmf_fit_transform(model, X): W. */
static SEXP rnmf_fit_transform(SEXP model, SEXP x) {
    NmfModel *m = model_of(model);
    size_t n, f;
    double *xr = row_major(x, &n, &f);
    NmfParams p;
    stop_on(nmf_get_params(m, &p));
    size_t k = p.n_components;
    double *w = (double *)R_alloc(n * k + 1, sizeof(double));
    stop_on(nmf_fit_transform_dense_f64(m, xr, n, f, 0, NULL, NULL, 0, w, n * k));
    return to_matrix(w, n, k);
}

/* rnmf_fit_transform_csr(model, indptr, indices, data, n, m): W of a CSR
   matrix given by 0-based numeric vectors. */
static SEXP rnmf_fit_transform_csr(SEXP model, SEXP indptr, SEXP indices, SEXP data, SEXP n_rows,
                                   SEXP n_cols) {
    NmfModel *m = model_of(model);
    size_t n = (size_t)Rf_asInteger(n_rows), f = (size_t)Rf_asInteger(n_cols);
    size_t nnz = (size_t)XLENGTH(data);
    if ((size_t)XLENGTH(indptr) != n + 1 || (size_t)XLENGTH(indices) != nnz)
        Rf_error("indptr must have n + 1 entries and indices as many as data");
    size_t *ip = (size_t *)R_alloc(n + 1, sizeof(size_t));
    size_t *ix = (size_t *)R_alloc(nnz + 1, sizeof(size_t));
    for (size_t i = 0; i <= n; i++) ip[i] = (size_t)REAL(indptr)[i];
    for (size_t i = 0; i < nnz; i++) ix[i] = (size_t)REAL(indices)[i];
    NmfParams p;
    stop_on(nmf_get_params(m, &p));
    size_t k = p.n_components;
    double *w = (double *)R_alloc(n * k + 1, sizeof(double));
    stop_on(nmf_fit_transform_csr_f64(m, ip, ix, REAL(data), nnz, n, f, NULL, NULL, 0, w, n * k));
    return to_matrix(w, n, k);
}

/* rnmf_transform(model, X): W for new data. */
static SEXP rnmf_transform(SEXP model, SEXP x) {
    NmfModel *m = model_of(model);
    size_t n, f;
    double *xr = row_major(x, &n, &f);
    size_t k = n_components(m);
    double *w = (double *)R_alloc(n * k + 1, sizeof(double));
    stop_on(nmf_transform_dense_f64(m, xr, n, f, 0, w, n * k));
    return to_matrix(w, n, k);
}

/* rnmf_inverse_transform(model, W): W %*% H. */
static SEXP rnmf_inverse_transform(SEXP model, SEXP w) {
    NmfModel *m = model_of(model);
    size_t n, k, f = 0;
    double *wr = row_major(w, &n, &k);
    stop_on(nmf_get_n_features_in(m, &f));
    double *x = (double *)R_alloc(n * f + 1, sizeof(double));
    stop_on(nmf_inverse_transform_dense_f64(m, wr, n, k, 0, x, n * f));
    return to_matrix(x, n, f);
}

/* rnmf_components(model): H (k x n_features). */
static SEXP rnmf_components(SEXP model) {
    NmfModel *m = model_of(model);
    size_t k = n_components(m), f = 0;
    stop_on(nmf_get_n_features_in(m, &f));
    double *h = (double *)R_alloc(k * f + 1, sizeof(double));
    stop_on(nmf_get_components_f64(m, h, k * f));
    return to_matrix(h, k, f);
}

/* rnmf_info(model): list(n_iter, n_steps, reconstruction_err, stop_reason, convergence_warning). */
static SEXP rnmf_info(SEXP model) {
    NmfFitInfo info;
    stop_on(nmf_get_fit_info(model_of(model), &info));
    const char *reasons[] = {"max_iter", "small_h_change", "no_improvement"};
    const char *names[] = {"n_iter", "n_steps", "reconstruction_err", "stop_reason",
                           "convergence_warning"};
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 5));
    SEXP nms = PROTECT(Rf_allocVector(STRSXP, 5));
    SET_VECTOR_ELT(out, 0, Rf_ScalarReal((double)info.n_iter));
    SET_VECTOR_ELT(out, 1, Rf_ScalarReal((double)info.n_steps));
    SET_VECTOR_ELT(out, 2, Rf_ScalarReal(info.reconstruction_err));
    SET_VECTOR_ELT(out, 3, Rf_mkString(reasons[info.stop_reason]));
    SET_VECTOR_ELT(out, 4, Rf_ScalarLogical(info.convergence_warning));
    for (int i = 0; i < 5; i++) SET_STRING_ELT(nms, i, Rf_mkChar(names[i]));
    Rf_setAttrib(out, R_NamesSymbol, nms);
    UNPROTECT(2);
    return out;
}

/* rnmf_version(): the library version. */
static SEXP rnmf_version(void) { return Rf_mkString(nmf_version()); }

static const R_CallMethodDef methods[] = {
    {"rnmf_create", (DL_FUNC)&rnmf_create, 5},
    {"rnmf_fit_transform", (DL_FUNC)&rnmf_fit_transform, 2},
    {"rnmf_fit_transform_csr", (DL_FUNC)&rnmf_fit_transform_csr, 6},
    {"rnmf_transform", (DL_FUNC)&rnmf_transform, 2},
    {"rnmf_inverse_transform", (DL_FUNC)&rnmf_inverse_transform, 2},
    {"rnmf_components", (DL_FUNC)&rnmf_components, 1},
    {"rnmf_info", (DL_FUNC)&rnmf_info, 1},
    {"rnmf_version", (DL_FUNC)&rnmf_version, 0},
    {"rnmf_save", (DL_FUNC)&rnmf_save, 2},
    {"rnmf_load", (DL_FUNC)&rnmf_load, 1},
    {"rnmf_serialize", (DL_FUNC)&rnmf_serialize, 1},
    {"rnmf_unserialize", (DL_FUNC)&rnmf_unserialize, 1},
    {NULL, NULL, 0},
};

void R_init_nmf_glue(DllInfo *dll) {
    R_registerRoutines(dll, NULL, methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
}
