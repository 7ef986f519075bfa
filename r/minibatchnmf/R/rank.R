# Choosing k by cross-validation on held-out entries (the library's
# nmf_cross_validate_rank_*): an S3 object "mbnmf_rank" with print() and plot().

mbnmf_rank <- function(x, k = 2:20, test_fraction = 0.1, n_repeats = 3, seed = NULL, ...) {
  if (!is.numeric(k) || length(k) < 1L || anyNA(k) || any(k != round(k)) || any(k < 1))
    stop("'k' must be a vector of whole numbers >= 1 (the candidate ranks)", call. = FALSE)
  test_fraction <- .scalar_num(test_fraction, "test_fraction")
  if (!(test_fraction > 0 && test_fraction < 1)) stop("'test_fraction' must be in (0, 1)", call. = FALSE)
  n_repeats <- .count(n_repeats, "n_repeats")
  if (n_repeats < 1) stop("'n_repeats' must be at least 1", call. = FALSE)
  if (!.Call(mbnmf_c_has_missing))
    stop("this libminibatchnmf has no nmf_cross_validate_rank (rank by cross-validation)", call. = FALSE)
  # NULL: drawn from R's generator, so set.seed() makes the result reproducible.
  if (is.null(seed)) seed <- floor(stats::runif(1) * 2^31)
  seed <- .count(seed, "seed")
  if (seed < 0 || seed > 4294967295) stop("'seed' must be in [0, 2^32 - 1]", call. = FALSE)
  model <- mbnmf_model(k = k[[1]], seed = seed, ...)
  res <- .Call(mbnmf_c_cross_validate_rank, model$state$ptr, .data(x), as.double(k), test_fraction,
               n_repeats, seed)
  scores <- res$scores
  dimnames(scores) <- list(as.character(k), NULL)
  n <- ncol(scores)
  sdev <- if (n > 1) apply(scores, 1, stats::sd) else rep(0, nrow(scores))
  structure(list(k = as.integer(k), scores = scores, mean = rowMeans(scores), sd = unname(sdev),
                 se = unname(sdev) / sqrt(n), best_k = as.integer(res$best_k),
                 test_fraction = test_fraction, n_repeats = as.integer(n_repeats), seed = seed),
            class = "mbnmf_rank")
}

print.mbnmf_rank <- function(x, ...) {
  cat(sprintf("Rank by cross-validation: %g%% of the observed entries held out, %d repeats, seed %s\n",
              100 * x$test_fraction, x$n_repeats, format(x$seed, scientific = FALSE)))
  tab <- data.frame(k = x$k, mean = signif(unname(x$mean), 6), sd = signif(x$sd, 3),
                    chosen = ifelse(x$k == x$best_k, "<-", ""))
  print(tab, row.names = FALSE)
  cat(sprintf("chosen k = %d (the smallest k within one standard error of the best mean)\n", x$best_k))
  invisible(x)
}

plot.mbnmf_rank <- function(x, ...) {
  m <- unname(x$mean)
  lo <- m - x$sd
  hi <- m + x$sd
  graphics::plot(x$k, m, type = "b", pch = 19, ylim = range(lo, hi), xlab = "k (number of components)",
                 ylab = "held-out beta-divergence per entry", ...)
  ok <- x$sd > 0
  if (any(ok))
    graphics::arrows(x$k[ok], lo[ok], x$k[ok], hi[ok], angle = 90, code = 3, length = 0.03)
  best <- x$k == x$best_k
  graphics::points(x$k[best], m[best], col = "red", cex = 2, lwd = 2)
  graphics::legend("topright", legend = c("mean +/- sd over repeats", sprintf("chosen k = %d", x$best_k)),
                   pch = c(19, 1), col = c("black", "red"), bty = "n")
  invisible(x)
}
