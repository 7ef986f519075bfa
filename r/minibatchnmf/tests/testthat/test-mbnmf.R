# The R package's guarantees. Data: R's built-in datasets (iris, volcano).

x <- as.matrix(iris[, 1:4])
frob <- function(a) sqrt(sum(a^2))

test_that("reconstruction_err is R's own ||X - W H||", {
  m <- mbnmf(x, 2, init = "nndsvda", seed = 0, tol = 0, max_no_improvement = NULL, max_iter = 50)
  w <- predict(m)
  expect_equal(dim(w), c(150L, 2L))
  err <- summary(m)$info$reconstruction_err
  expect_equal(err, frob(x - w %*% components(m)), tolerance = 1e-10)
  expect_equal(summary(m)$info$n_iter, 50)
  expect_true(all(w >= 0) && all(components(m) >= 0))
})

test_that("dgCMatrix input gives the dense results (CSR of x from t(x)'s storage)", {
  v <- volcano - min(volcano)  # 87 x 61, zeros where the minimum is
  v[v < 40] <- 0
  s <- Matrix::Matrix(v, sparse = TRUE)
  expect_s4_class(s, "dgCMatrix")
  md <- mbnmf(v, 3, init = "nndsvda", seed = 1, max_iter = 30, tol = 0)
  ms <- mbnmf(s, 3, init = "nndsvda", seed = 1, max_iter = 30, tol = 0)
  expect_equal(components(ms), components(md), tolerance = 1e-10)
  expect_equal(predict(ms), predict(md), tolerance = 1e-10)
  expect_equal(predict(ms, s[1:5, ]), predict(md, v[1:5, ]), tolerance = 1e-10)
})

test_that("a real TF-IDF (FOLDOC, dgCMatrix) fits as its dense copy does", {
  f <- system.file("extdata", "foldoc1000.mtx.gz", package = "minibatchnmf", mustWork = TRUE)
  s <- methods::as(Matrix::readMM(f), "CsparseMatrix")
  colnames(s) <- readLines(system.file("extdata", "foldoc1000_vocab.txt", package = "minibatchnmf"))
  s <- s[Matrix::rowSums(s) > 0, ]
  ms <- mbnmf(s, 5, init = "nndsvda", seed = 1, max_iter = 10, tol = 0)
  md <- mbnmf(as.matrix(s), 5, init = "nndsvda", seed = 1, max_iter = 10, tol = 0)
  expect_equal(components(ms), components(md), tolerance = 1e-9)
  expect_equal(colnames(components(ms)), colnames(s))
  expect_equal(summary(ms)$info$reconstruction_err, summary(md)$info$reconstruction_err, tolerance = 1e-10)
  expect_length(summary(ms, n_top = 3)$top_features, 15)
})

test_that("data frames and integer matrices are accepted (converted to double)", {
  xi <- round(x * 10)
  storage.mode(xi) <- "integer"
  a <- mbnmf(xi, 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0)
  b <- mbnmf(as.data.frame(xi), 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0)
  expect_equal(components(a), components(b))
  expect_equal(colnames(components(a)), colnames(x))
})

test_that("inverse_transform is W H", {
  m <- mbnmf(x, 3, init = "nndsvda", seed = 0, max_iter = 20, tol = 0)
  w <- predict(m, x[1:10, ])
  expect_equal(inverse_transform(m, w), w %*% components(m), tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("partial_fit updates the model in place, one mini-batch per call", {
  m <- mbnmf_model(2, init = "nndsvda", seed = 0)
  expect_false(summary(m)$info$fitted)
  for (rows in split(seq_len(150), rep(1:3, each = 50))) partial_fit(m, x[rows, ])
  info <- summary(m)$info
  expect_true(info$fitted)
  expect_equal(info$n_steps, 3)
  expect_true(is.na(info$n_iter))  # set by a fit only, as in scikit-learn
  expect_equal(dim(predict(m, x)), c(150L, 2L))
})

test_that("custom init: k from H, and the W/H shapes are checked", {
  h0 <- matrix(runif(8), 2, 4)
  w0 <- matrix(runif(300), 150, 2)
  m <- mbnmf(x, "auto", init = "custom", W = w0, H = h0, max_iter = 5, tol = 0)
  expect_equal(dim(components(m)), c(2L, 4L))
  expect_error(mbnmf(x, "auto", init = "custom", W = w0[1:10, ], H = h0), "W must be")
})

test_that("bad input and parameters are R errors naming the problem", {
  m <- mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0)
  expect_error(predict(m, -x), "negative values")
  expect_error(predict(m, x[, 1:3]), "features")
  expect_error(mbnmf(x, 2, beta_loss = "kitten"), "beta_loss")
  expect_error(mbnmf(x, 2, forget_factor = 2), "forget_factor")
  x0 <- x
  x0[1, 1] <- 0
  expect_error(mbnmf(x0, 2, beta_loss = 0), "beta_loss <= 0")
  xn <- x
  xn[1, 1] <- NA
  expect_error(mbnmf(xn, 2), "NaN")
  expect_error(mbnmf(letters), "numeric matrix")
  expect_error(predict(mbnmf_model(2), x), "not fitted")
})

test_that("max_iter reached gives scikit-learn's ConvergenceWarning text", {
  expect_warning(mbnmf(x, 2, max_iter = 1, seed = 0), "Maximum number of iterations 1 reached")
})

test_that("the thread count is settable and results do not depend on it", {
  old <- mbnmf_threads()
  mbnmf_threads(1)
  expect_equal(mbnmf_threads(), 1)
  a <- components(mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0))
  mbnmf_threads(2)
  b <- components(mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0))
  mbnmf_threads(old)
  expect_equal(a, b, tolerance = 1e-12)
  expect_error(mbnmf_threads(-1))
})

test_that("print and summary describe the model", {
  m <- mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0)
  expect_output(print(m), "2 components, 4 features")
  expect_output(print(summary(m, n_top = 2)), "nmf1: ")
  expect_output(print(mbnmf_model(3)), "not fitted")
})

test_that("saveRDS/readRDS and mbnmf_save/mbnmf_load keep the fitted model", {
  skip_if_not(minibatchnmf:::.has_persist(), "library without the saving format (issue 7)")
  m <- mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 20, tol = 0)
  f <- tempfile(fileext = ".rds")
  saveRDS(m, f)
  back <- readRDS(f)
  expect_equal(components(back), components(m))
  expect_equal(predict(back, x), predict(m, x))
  g <- tempfile(fileext = ".nmf")
  mbnmf_save(m, g)
  loaded <- mbnmf_load(g)
  expect_equal(components(loaded), components(m), ignore_attr = TRUE)
  expect_equal(loaded$params$seed, 0)
  partial_fit(back, x[1:50, ])
  partial_fit(m, x[1:50, ])
  expect_equal(components(back), components(m))
})

test_that("an unfitted model survives saveRDS (its parameters rebuild it)", {
  f <- tempfile(fileext = ".rds")
  saveRDS(mbnmf_model(2, init = "nndsvda", seed = 0), f)
  m <- readRDS(f)
  partial_fit(m, x)
  ref <- mbnmf_model(2, init = "nndsvda", seed = 0)
  partial_fit(ref, x)
  expect_equal(components(m), components(ref))
})

test_that("solver = 'cd' fits, is kept by the model and beats 'mu' at the same epochs", {
  fit <- function(solver) suppressWarnings(mbnmf(x, 2, init = "nndsvda", seed = 0, tol = 0,
                                                 max_no_improvement = NULL, max_iter = 5, batch_size = 32,
                                                 solver = solver))
  mu <- fit("mu")
  cd <- fit("cd")
  expect_equal(cd$params$solver, "cd")
  expect_equal(.Call(minibatchnmf:::mbnmf_c_get_param, minibatchnmf:::.ptr(cd), "solver"), "cd")
  err <- summary(cd)$info$reconstruction_err
  expect_equal(err, frob(x - predict(cd) %*% components(cd)), tolerance = 1e-10)
  expect_equal(summary(cd)$info$n_iter, 5)
  expect_lt(err, summary(mu)$info$reconstruction_err)
  m2 <- suppressWarnings(mbnmf(x, 2, init = "nndsvda", seed = 0, solver = "cd", cd_w_sweeps = 3L,
                               cd_h_sweeps = 2L, cd_stats = "decayed", max_memory = "4G", max_iter = 5))
  f <- tempfile(fileext = ".safetensors")
  mbnmf_save(m2, f)
  back <- mbnmf_load(f)
  expect_equal(back$params[c("solver", "cd_w_sweeps", "cd_h_sweeps", "cd_stats")],
               list(solver = "cd", cd_w_sweeps = 3L, cd_h_sweeps = 2L, cd_stats = "decayed"))
  expect_equal(back$params$max_memory, 4 * 1024^3)
  expect_null(mbnmf_load({mbnmf_save(mu, f); f})$params$max_memory)
  online <- mbnmf_model(2, init = "nndsvda", seed = 0, solver = "cd")
  partial_fit(online, x[1:75, ])
  expect_equal(.Call(minibatchnmf:::mbnmf_c_get_param, minibatchnmf:::.ptr(online), "solver"), "cd")
})

test_that("bad solver values are refused with the library's message", {
  expect_error(mbnmf(x, 2, solver = "als"), "invalid parameter `solver`")
  expect_error(mbnmf(x, 2, solver = "cd", beta_loss = "kullback-leibler"), "Frobenius loss only")
  expect_error(mbnmf(x, 2, cd_w_sweeps = 0), "cd_w_sweeps")
  expect_error(mbnmf(x, 2, cd_stats = "fast"), "cd_stats")
  expect_error(mbnmf(x, 2, max_memory = "lots"), "max_memory")
  expect_error(mbnmf(x, 2, init = "nndsvda", max_memory = 1024), "NMF_ERR_OUT_OF_MEMORY")
})

# -- missing values and the rank's cross-validation ------------------------------
has_missing <- function() .Call(minibatchnmf:::mbnmf_c_has_missing)
# X = W H of rank k with multiplicative noise; W and H 60 % zeros (parts-based factors:
# dense uniform ones are so correlated that multiplicative updates need thousands of passes).
low_rank <- function(n = 300, m = 40, k = 4, noise = 0.02, seed = 1) {
  set.seed(seed)
  sparse_unif <- function(r, c) matrix(ifelse(runif(r * c) < 0.6, 0, runif(r * c)), r)
  wh <- sparse_unif(n, k) %*% sparse_unif(k, m)
  abs(wh * (1 + noise * matrix(rnorm(n * m), n)))
}

test_that("NA with the default missing = 'error' is refused; missing = 'nan' on data without NA is the plain fit", {
  skip_if_not(has_missing(), "library without the 'missing' parameter")
  xn <- x
  xn[3, 2] <- NA
  expect_error(mbnmf(xn, 2, init = "nndsvda", seed = 0), "finite|NaN|infinit", ignore.case = TRUE)
  a <- suppressWarnings(mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 30))
  b <- suppressWarnings(mbnmf(x, 2, init = "nndsvda", seed = 0, max_iter = 30, missing = "nan"))
  expect_identical(components(b), components(a))
  expect_identical(predict(b), predict(a))
  expect_equal(b$params$missing, "nan")
  expect_equal(.Call(minibatchnmf:::mbnmf_c_get_param, minibatchnmf:::.ptr(b), "missing"), "nan")
})

test_that("missing = 'nan': NA entries are missing, the completed matrix fills them", {
  skip_if_not(has_missing(), "library without the 'missing' parameter")
  v <- low_rank()
  set.seed(2)
  miss <- matrix(runif(length(v)) < 0.2, nrow(v))
  vn <- v
  vn[miss] <- NA
  m <- suppressWarnings(mbnmf(vn, 4, init = "nndsvda", seed = 0, max_iter = 300, tol = 0,
                              max_no_improvement = NULL, batch_size = 100, missing = "nan"))
  w <- predict(m)
  h <- components(m)
  expect_true(all(is.finite(w)) && all(is.finite(h)))
  r <- ifelse(miss, 0, v - w %*% h)
  expect_equal(summary(m)$info$reconstruction_err, sqrt(sum(r^2)), tolerance = 1e-8)
  completed <- inverse_transform(m, w)
  rmse <- sqrt(mean((completed[miss] - v[miss])^2))
  means <- matrix(colMeans(vn, na.rm = TRUE), nrow(v), ncol(v), byrow = TRUE)
  expect_lt(rmse, 0.2 * sqrt(mean((means[miss] - v[miss])^2)))
  expect_true(all(is.finite(predict(m, vn[1:10, ]))))
  # kept by the saving format
  f <- tempfile(fileext = ".safetensors")
  mbnmf_save(m, f)
  expect_equal(mbnmf_load(f)$params$missing, "nan")
})

test_that("missing = 'unstored': a dgCMatrix's unstored entries are missing; dense input is refused", {
  skip_if_not(has_missing(), "library without the 'missing' parameter")
  set.seed(3)
  n <- 400; m <- 80; k <- 3
  truth <- 1 + 4 * (matrix(runif(n * k), n) %*% matrix(runif(k * m), k)) / k
  stored <- matrix(runif(n * m) < 0.2, n)
  held <- stored & matrix(runif(n * m) < 0.2, n)
  train <- which(stored & !held, arr.ind = TRUE)
  r <- Matrix::sparseMatrix(i = train[, 1], j = train[, 2], x = truth[train] + 0.05 * rnorm(nrow(train)),
                            dims = c(n, m))
  expect_s4_class(r, "dgCMatrix")
  fit <- suppressWarnings(mbnmf(r, k, init = "random", seed = 0, max_iter = 200, tol = 0,
                                max_no_improvement = NULL, batch_size = 200, missing = "unstored"))
  pred <- inverse_transform(fit, predict(fit))
  rmse <- sqrt(mean((pred[held] - truth[held])^2))
  expect_lt(rmse, 0.5 * sqrt(mean((mean(r@x) - truth[held])^2)))
  expect_error(mbnmf(as.matrix(r), k, missing = "unstored"), "unstored")
  expect_error(mbnmf(x, 2, missing = "zero"), "missing")
})

test_that("mbnmf_rank picks the true rank, prints its table and plots", {
  skip_if_not(has_missing(), "library without nmf_cross_validate_rank")
  v <- low_rank(400, 50, 5)
  set.seed(4)
  v[matrix(runif(length(v)) < 0.2, nrow(v))] <- NA
  cv <- mbnmf_rank(v, k = c(2, 3, 5, 7, 10), n_repeats = 3, seed = 0, missing = "nan",
                   init = "nndsvda", max_iter = 200, batch_size = 200)
  expect_s3_class(cv, "mbnmf_rank")
  expect_equal(dim(cv$scores), c(5L, 3L))
  expect_equal(unname(cv$mean), unname(rowMeans(cv$scores)))
  expect_equal(cv$best_k, 5L)
  expect_output(print(cv), "chosen k = 5")
  f <- tempfile(fileext = ".png")
  grDevices::png(f)
  plot(cv)
  grDevices::dev.off()
  expect_gt(file.size(f), 1000)
  # reproducible; seed = NULL draws from R's generator
  again <- mbnmf_rank(v, k = c(2, 3, 5, 7, 10), n_repeats = 3, seed = 0, missing = "nan",
                      init = "nndsvda", max_iter = 200, batch_size = 200)
  expect_identical(again$scores, cv$scores)
  set.seed(9); a <- mbnmf_rank(v[1:100, ], k = 1:3, n_repeats = 2, missing = "nan", max_iter = 20)
  set.seed(9); b <- mbnmf_rank(v[1:100, ], k = 1:3, n_repeats = 2, missing = "nan", max_iter = 20)
  expect_identical(a$scores, b$scores)
  # sparse input, and bad arguments
  s <- Matrix::Matrix(ifelse(is.na(v), 0, v), sparse = TRUE)
  sp <- mbnmf_rank(s, k = c(2, 5), n_repeats = 2, seed = 1, missing = "unstored", max_iter = 50)
  expect_equal(dim(sp$scores), c(2L, 2L))
  expect_error(mbnmf_rank(v, k = c(2, 0)), "'k'")
  expect_error(mbnmf_rank(v, k = 2:3, test_fraction = 1), "test_fraction")
  expect_error(mbnmf_rank(v, k = 2:3, n_repeats = 0), "n_repeats")
})
