# RcppML's side of the time-to-error benchmark (benches/time_to_error.py).
#
#   Rscript benches/rcppml_runner.R X.rbin K MAX_SECONDS MAX_ITER TARGETS BUDGETS THREADS
#
# X.rbin: doubles [kind (0 dense, 1 CSC), n, m, nnz], then the dense matrix
# column by column, or the CSC arrays p (m + 1), i (nnz, 0-based), x (nnz);
# written by time_to_error.py. TARGETS and BUDGETS are comma-separated
# ("-" for none).
#
# RcppML::nmf(A, k, tol = 1e-12, maxit = i, seed = 1, verbose = FALSE) on
# THREADS threads (setRcppMLthreads; seed 0 would mean unseeded in RcppML
# 0.3.7: a different init in every run): batch alternating least squares, with
# no callback and no warm start, so the point for i iterations is a fit of
# maxit = i, timed from the call to its return (the same deterministic fit
# stopped after i iterations; tol = 1e-12 does not end it earlier). Its
# error is measured as ours and scikit-learn's: ||X - W H||_F with
# W = w diag(d), H = h (RcppML returns X ~ w diag(d) h), computed after the
# timer in double precision (dense: directly; sparse: ||X||^2 - 2 <X, W H>
# + <W'W, H H'>, the sum over the stored values only).
#
# The iteration counts are chosen as benches/runner.rs --mode curve chooses
# its pass counts: 1, 2, 3, 4, 5, 6, 8, 10, ... (x1.25) until a fit takes
# longer than MAX_SECONDS or MAX_ITER is reached; then bisection to the
# first count reaching each target and to the last count ending within each
# budget. Prints one JSON line: points [i, seconds, error].

suppressPackageStartupMessages({
  library(Matrix)
  library(RcppML)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 7) stop("usage: rcppml_runner.R X.rbin K MAX_SECONDS MAX_ITER TARGETS BUDGETS THREADS")
nums <- function(s) if (s == "-" || s == "") numeric(0) else as.numeric(strsplit(s, ",")[[1]])
k <- as.integer(args[2])
max_seconds <- as.numeric(args[3])
max_iter <- as.integer(args[4])
targets <- nums(args[5])
budgets <- nums(args[6])
setRcppMLthreads(as.integer(args[7]))

con <- file(args[1], "rb")
head <- readBin(con, "double", 4)
n <- as.integer(head[2]); m <- as.integer(head[3]); nnz <- head[4]
if (head[1] == 0) {
  A <- matrix(readBin(con, "double", n * m), n, m)
  sparse <- FALSE
} else {
  p <- readBin(con, "double", m + 1)
  i <- readBin(con, "double", nnz)
  x <- readBin(con, "double", nnz)
  A <- sparseMatrix(i = i, p = p, x = x, dims = c(n, m), index1 = FALSE)
  A <- as(A, "dgCMatrix")
  rm(p, i, x)
  sparse <- TRUE
}
close(con)

fro_err <- function(A, fit) {
  W <- fit$w %*% diag(fit$d, nrow = length(fit$d))
  H <- fit$h
  if (!sparse) return(sqrt(sum((A - W %*% H)^2)))
  jj <- rep.int(seq_len(ncol(A)), diff(A@p))
  cross <- sum(A@x * rowSums(W[A@i + 1L, , drop = FALSE] * t(H)[jj, , drop = FALSE]))
  sqrt(max(0, sum(A@x^2) - 2 * cross + sum(crossprod(W) * tcrossprod(H))))
}

fit_for <- function(it) {
  t0 <- Sys.time()
  fit <- RcppML::nmf(A, k, tol = 1e-12, maxit = it, seed = 1, verbose = FALSE)
  secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  list(secs = secs, err = fro_err(A, fit), iter = fit$iter)
}

invisible(fit_for(1))  # warm-up (not recorded): thread pool, first-touch pages

pts <- list()  # name: iteration count; value: c(seconds, error)
ev <- function(it) {
  key <- as.character(it)
  if (is.null(pts[[key]])) {
    f <- fit_for(it)
    pts[[key]] <<- c(f$secs, f$err)
  }
  pts[[key]]
}
table_ <- function() {
  its <- sort(as.integer(names(pts)))
  cbind(its, t(sapply(as.character(its), function(s) pts[[s]])))
}

it <- 1L
repeat {
  r <- ev(it)
  if (r[1] > max_seconds || it >= max_iter) break
  it <- min(max(it + 1L, as.integer(floor(it * 1.25))), max_iter)
}
for (t in targets) {
  tb <- table_()
  ok <- which(tb[, 3] <= t)
  if (length(ok) == 0) next
  hi <- tb[ok[1], 1]
  below <- tb[tb[, 1] < hi, 1]
  lo <- if (length(below)) max(below) else 0
  while (hi - lo > 1) {
    mid <- (lo + hi) %/% 2
    if (ev(mid)[2] <= t) hi <- mid else lo <- mid
  }
}
for (b in budgets) {
  tb <- table_()
  within <- tb[tb[, 2] <= b, 1]
  if (length(within) == 0) next
  lo <- max(within)
  beyond <- tb[tb[, 1] > lo & tb[, 2] > b, 1]
  if (length(beyond) == 0) next
  hi <- min(beyond)
  while (hi - lo > 1) {
    mid <- (lo + hi) %/% 2
    if (ev(mid)[1] <= b) lo <- mid else hi <- mid
  }
}
tb <- table_()
rows <- sprintf("[%d,%.9g,%.17g]", tb[, 1], tb[, 2], tb[, 3])
cat(sprintf('{"impl":"RcppML %s","points":[%s],"shape":[%d,%d],"nnz":%.0f,"threads":%d}\n',
            as.character(packageVersion("RcppML")), paste(rows, collapse = ","), n, m,
            if (sparse) nnz else n * m, getRcppMLthreads()))
