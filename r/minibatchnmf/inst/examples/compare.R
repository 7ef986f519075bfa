# Topics of a small real TF-IDF (FOLDOC, 1000 definitions x 8958 terms,
# shipped in inst/extdata), then time and error of three NMF packages on the
# same data and rank: minibatchnmf, RcppML (Debian's r-cran-rcppml) and NMF
# (r-cran-nmf).
#
#   Rscript compare.R [k] [nmf_max_iter]
#   (make r-package-example installs the three packages and runs it)
#
# The error of every method is the same R computation, ||X - W H||_F / ||X||_F,
# on the same matrix (definitions with no term left out: NMF refuses them).
suppressPackageStartupMessages({
  library(Matrix)
  library(minibatchnmf)
})
args <- commandArgs(trailingOnly = TRUE)
k <- if (length(args) >= 1) as.integer(args[1]) else 10L
nmf_max_iter <- if (length(args) >= 2) as.integer(args[2]) else 30L

ext <- function(f) system.file("extdata", f, package = "minibatchnmf", mustWork = TRUE)
x <- as(readMM(ext("foldoc1000.mtx.gz")), "CsparseMatrix")
colnames(x) <- readLines(ext("foldoc1000_vocab.txt"), encoding = "UTF-8")
x <- x[rowSums(x) > 0, ]
cat(sprintf("FOLDOC TF-IDF: %d definitions x %d terms, %d non-zeros; k = %d\n\n", nrow(x), ncol(x),
            length(x@x), k))

x_dense <- as.matrix(x)
rel_err <- function(w, h) sqrt(sum((x_dense - w %*% h)^2)) / sqrt(sum(x_dense^2))
timed <- function(expr) {
  t <- system.time(v <- force(expr))
  list(value = v, seconds = unname(t["elapsed"]))
}
results <- list()

# minibatchnmf: scikit-learn's MiniBatchNMF defaults (Frobenius, tol 1e-4,
# early stopping), nndsvda start, the whole matrix as one batch per step.
# batch_size >= the rows: each step sees all the data (a full multiplicative update).
ours <- timed(suppressWarnings(mbnmf(x, k, init = "nndsvda", batch_size = 1024, seed = 1)))
m <- ours$value
info <- summary(m)$info
results$minibatchnmf <- c(seconds = ours$seconds, iterations = info$n_iter,
                          rel_error = rel_err(predict(m), components(m)))

# The same number of passes as NMF's iterations below, for a like-for-like error.
ours_n <- timed(suppressWarnings(mbnmf(x, k, init = "nndsvda", batch_size = 1024, seed = 1,
                                      max_iter = nmf_max_iter)))
results[[sprintf("minibatchnmf, %d passes", nmf_max_iter)]] <-
  c(seconds = ours_n$seconds, iterations = nmf_max_iter,
    rel_error = rel_err(predict(ours_n$value), components(ours_n$value)))

cat("Topics (minibatchnmf):\n")
h <- components(m)
for (i in seq_len(k)) {
  top <- names(sort(h[i, ], decreasing = TRUE))[1:8]
  cat(sprintf("  Topic #%d: %s\n", i - 1, paste(top, collapse = " ")))
}
cat("\n")

# RcppML: alternating NNLS, its defaults (tol 1e-4, maxit 100), sparse input.
if (requireNamespace("RcppML", quietly = TRUE)) {
  r <- timed(RcppML::nmf(x, k, seed = 1, verbose = FALSE))
  w <- r$value$w %*% diag(r$value$d)
  results$RcppML <- c(seconds = r$seconds, iterations = r$value$iter, rel_error = rel_err(w, r$value$h))
} else cat("RcppML not installed (Debian: r-cran-rcppml)\n")

# NMF: Lee & Seung's multiplicative updates for the Frobenius norm (method
# "lee"), dense input (the package has no sparse path), nmf_max_iter
# iterations (default 30 here: each takes ~3 s and the run ~4 GB on this
# matrix; the package's own default of 2000 would take over an hour).
if (requireNamespace("NMF", quietly = TRUE)) {
  n <- timed(NMF::nmf(x_dense, k, method = "lee", seed = 1, maxIter = nmf_max_iter))
  results$NMF <- c(seconds = n$seconds, iterations = NMF::niter(n$value),
                   rel_error = rel_err(NMF::basis(n$value), NMF::coef(n$value)))
} else cat("NMF not installed (Debian: r-cran-nmf)\n")

tab <- do.call(rbind, results)
cat("| package | seconds | iterations (passes) | ||X - WH|| / ||X|| |\n|---|---|---|---|\n")
for (p in rownames(tab))
  cat(sprintf("| %s | %.2f | %d | %.4f |\n", p, tab[p, "seconds"], as.integer(tab[p, "iterations"]),
              tab[p, "rel_error"]))
