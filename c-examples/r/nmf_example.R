# minibatchnmf from R through a small .Call glue (nmf_glue.c).
#   Rscript nmf_example.R GLUE_SO DATA_DIR
# Fits scikit-learn's digits (DATA_DIR/digits.npy), prints the results and
# checks them against plain R arithmetic.

args <- commandArgs(trailingOnly = TRUE)
dyn.load(args[1])
data_dir <- args[2]

passed <- 0L
failed <- 0L
check <- function(cond, what) {
  if (isTRUE(cond)) {
    passed <<- passed + 1L
  } else {
    failed <<- failed + 1L
    message("FAILED: ", what)
  }
}

# A C-order .npy file of float64 or uint8 values as an R (double) matrix.
read_npy <- function(path) {
  con <- file(path, "rb")
  on.exit(close(con))
  magic <- readBin(con, "raw", 6)
  version <- readBin(con, "integer", 2, size = 1, signed = FALSE)
  header_len <- if (version[1] == 1) {
    readBin(con, "integer", 1, size = 2, signed = FALSE, endian = "little")
  } else {
    readBin(con, "integer", 1, size = 4, endian = "little")
  }
  header <- rawToChar(readBin(con, "raw", header_len))
  f8 <- grepl("'<f8'", header)
  stopifnot(f8 || grepl("'\\|u1'", header), grepl("'fortran_order': False", header))
  dims <- sub(".*'shape': \\(([^)]*)\\).*", "\\1", header)
  shape <- as.integer(regmatches(dims, gregexpr("[0-9]+", dims))[[1]])
  values <- if (f8) {
    readBin(con, "double", prod(shape), size = 8, endian = "little")
  } else {
    as.double(readBin(con, "integer", prod(shape), size = 1, signed = FALSE))
  }
  matrix(values, nrow = shape[1], ncol = shape[2], byrow = TRUE)
}

X <- read_npy(file.path(data_dir, "digits.npy"))
cat(sprintf("minibatchnmf %s from R %s; digits %d x %d\n",
            .Call("rnmf_version"), getRversion(), nrow(X), ncol(X)))

model <- .Call("rnmf_create", 10L, "nndsvda", 0L, 256L, 200L)
W <- .Call("rnmf_fit_transform", model, X)
H <- .Call("rnmf_components", model)
info <- .Call("rnmf_info", model)
str(info)
check(identical(dim(W), c(nrow(X), 10L)) && identical(dim(H), c(10L, ncol(X))), "shapes of W and H")
check(all(W >= 0) && all(H >= 0), "W and H are non-negative")
frob <- sqrt(sum((X - W %*% H)^2))
cat(sprintf("||X - W H||_F computed in R: %.10f, reconstruction_err: %.10f\n", frob, info$reconstruction_err))
check(abs(frob - info$reconstruction_err) <= 1e-8 * frob, "reconstruction_err is ||X - W H||_F")

# The first three components as 8 x 8 images.
shades <- strsplit(" .:-=+*#%@", "")[[1]]
for (c in 1:3) {
  img <- matrix(H[c, ], 8, 8, byrow = TRUE)
  level <- 1 + floor(9 * img / max(img))
  cat(sprintf("component %d:\n", c))
  for (r in 1:8) cat("   ", paste(rep(shades[level[r, ]], each = 2), collapse = ""), "\n")
}

W_new <- .Call("rnmf_transform", model, X[1:5, , drop = FALSE])
print(round(W_new, 3))
X_back <- .Call("rnmf_inverse_transform", model, W_new)
check(max(abs(X_back - W_new %*% H)) < 1e-10, "inverse_transform is W %*% H")

# The same data as CSR (0-based indptr/indices) gives the same model.
Xs <- X[1:300, ]
nz <- t(Xs) != 0
indptr <- c(0, cumsum(colSums(nz)))
indices <- (which(nz) - 1) %% ncol(Xs)
values <- t(Xs)[nz]
m_dense <- .Call("rnmf_create", 5L, "random", 1L, 64L, 20L)
m_csr <- .Call("rnmf_create", 5L, "random", 1L, 64L, 20L)
W_dense <- .Call("rnmf_fit_transform", m_dense, Xs)
W_csr <- .Call("rnmf_fit_transform_csr", m_csr, indptr, indices, values, nrow(Xs), ncol(Xs))
cat(sprintf("dense vs CSR fit of 300 rows: max |W difference| = %.3g\n", max(abs(W_dense - W_csr))))
check(max(abs(W_dense - W_csr)) < 1e-8, "CSR and dense fits agree")

# A model that outlives the session: save, load, transform.
path <- tempfile(fileext = ".safetensors")
invisible(.Call("rnmf_save", model, path))
loaded <- .Call("rnmf_load", path)
unlink(path)
check(identical(.Call("rnmf_transform", loaded, X[1:5, , drop = FALSE]), W_new),
      "the loaded model transforms exactly as the saved one")
check(identical(.Call("rnmf_components", loaded), H), "the loaded model has the same H")
bytes <- .Call("rnmf_serialize", model)
copy <- .Call("rnmf_unserialize", bytes)
check(identical(.Call("rnmf_transform", copy, X[1:5, , drop = FALSE]), W_new),
      "a model from a raw vector transforms exactly as the saved one")
bytes[length(bytes) %/% 2] <- as.raw(bitwXor(as.integer(bytes[length(bytes) %/% 2]), 1L))
msg <- tryCatch({ .Call("rnmf_unserialize", bytes); "" }, error = function(e) conditionMessage(e))
cat("expected error:", msg, "\n")
check(grepl("NMF_ERR_CORRUPT_MODEL", msg), "a damaged model is an R error")
cat(sprintf("save -> load -> transform: identical W (%d bytes)\n", length(bytes)))

# Errors come back as R errors with the status name and message.
fresh <- .Call("rnmf_create", 3L, "random", 0L, 64L, 10L)
msg <- tryCatch({ .Call("rnmf_transform", fresh, X); "" }, error = function(e) conditionMessage(e))
cat("expected error:", msg, "\n")
check(grepl("NMF_ERR_NOT_FITTED", msg), "unfitted transform is an R error")
msg <- tryCatch({ .Call("rnmf_fit_transform", fresh, -X); "" }, error = function(e) conditionMessage(e))
check(grepl("NMF_ERR_NEGATIVE_DATA", msg), "negative data is an R error")
msg <- tryCatch({ .Call("rnmf_create", 3L, "random", 0L, 0L, 10L); "" }, error = function(e) conditionMessage(e))
check(grepl("NMF_ERR_INVALID_PARAM", msg), "batch_size 0 is an R error")

rm(model, fresh, m_dense, m_csr, loaded, copy)
invisible(gc())  # runs the finalizers (nmf_free)
cat(sprintf("r-example: %d passed, %d failed\n", passed, failed))
quit(status = if (failed == 0L) 0L else 1L)
