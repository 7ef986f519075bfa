# The mbnmf S3 class: a list holding the parameters and an environment
# `state` with the library's model handle (`ptr`) and, when the library has
# the saving format, the model's bytes (`bytes`), refreshed after every fit
# and partial_fit so that saveRDS()/readRDS() keep the fitted model: after
# readRDS the handle is NULL and is rebuilt from the bytes on first use.

.new_mbnmf <- function(params, ptr) {
  state <- new.env(parent = emptyenv())
  state$ptr <- ptr
  state$bytes <- NULL
  state$fitted <- FALSE
  state$feature_names <- NULL
  structure(list(params = params, state = state, W = NULL), class = "mbnmf")
}

.null_ptr <- function(p) identical(p, methods::new("externalptr"))

.ptr <- function(object) {
  st <- object$state
  if (.null_ptr(st$ptr)) {
    if (!isTRUE(st$fitted)) {
      # An unfitted model holds nothing but its parameters.
      st$ptr <- .apply_ext(.Call(mbnmf_c_create, .c_params(object$params)), object$params)
      return(st$ptr)
    }
    if (is.null(st$bytes))
      stop("this mbnmf model was restored without its saved bytes (saved by a library ",
           "without the saving format); refit it", call. = FALSE)
    st$ptr <- .Call(mbnmf_c_load, st$bytes)
  }
  st$ptr
}

.after_update <- function(object, feature_names) {
  st <- object$state
  if (!is.null(feature_names)) st$feature_names <- feature_names
  st$fitted <- TRUE
  if (.Call(mbnmf_c_has_persist)) st$bytes <- .Call(mbnmf_c_save, st$ptr)
  info <- .Call(mbnmf_c_info, st$ptr)
  if (isTRUE(info$ignored_init_warning))
    warning("When init != 'custom', provided W or H are ignored. Set init = 'custom' to use them as initialization.",
            call. = FALSE)
  invisible(object)
}

# X as the glue reads it: a double matrix, or list(p, j, x, n, m) = X in CSR
# taken from the CSC storage of t(X) (a sparse transpose, never densified).
.data <- function(x, what = "x") {
  if (methods::is(x, "sparseMatrix")) {
    x <- methods::as(methods::as(methods::as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
    tx <- Matrix::t(x)
    return(list(tx@p, tx@i, as.double(tx@x), nrow(x), ncol(x)))
  }
  if (methods::is(x, "Matrix") || is.data.frame(x)) x <- as.matrix(x)
  if (!is.matrix(x) || !(is.numeric(x) || is.logical(x)))
    stop(sprintf("'%s' must be a numeric matrix, a data frame of numbers or a Matrix::dgCMatrix", what),
         call. = FALSE)
  storage.mode(x) <- "double"
  x
}

.init_matrix <- function(a, what) {
  if (is.null(a)) return(NULL)
  if (methods::is(a, "Matrix") || is.data.frame(a)) a <- as.matrix(a)
  if (!is.matrix(a) || !is.numeric(a)) stop(sprintf("'%s' must be a numeric matrix", what), call. = FALSE)
  storage.mode(a) <- "double"
  a
}

.convergence_warning <- function(object) {
  info <- .Call(mbnmf_c_info, .ptr(object))
  if (isTRUE(info$convergence_warning))
    warning(sprintf("Maximum number of iterations %d reached. Increase it to improve convergence.",
                    as.integer(object$params$max_iter)), call. = FALSE)
}

mbnmf_model <- function(k = "auto", init = NULL, batch_size = 1024, beta_loss = "frobenius", tol = 1e-4,
                        max_no_improvement = 10, max_iter = 200, alpha_W = 0, alpha_H = "same", l1_ratio = 0,
                        forget_factor = 0.7, fresh_restarts = FALSE, fresh_restarts_max_iter = 30,
                        transform_max_iter = NULL, seed = NULL, verbose = FALSE, solver = "mu",
                        cd_w_sweeps = 10L, cd_h_sweeps = 5L, cd_stats = "exact", max_memory = NULL,
                        missing = "error") {
  params <- list(k = k, init = init, batch_size = batch_size, beta_loss = beta_loss, tol = tol,
                 max_no_improvement = max_no_improvement, max_iter = max_iter, alpha_W = alpha_W,
                 alpha_H = alpha_H, l1_ratio = l1_ratio, forget_factor = forget_factor,
                 fresh_restarts = fresh_restarts, fresh_restarts_max_iter = fresh_restarts_max_iter,
                 transform_max_iter = transform_max_iter, seed = seed, verbose = verbose,
                 solver = solver, cd_w_sweeps = cd_w_sweeps, cd_h_sweeps = cd_h_sweeps,
                 cd_stats = cd_stats, max_memory = max_memory, missing = missing)
  .new_mbnmf(params, .apply_ext(.Call(mbnmf_c_create, .c_params(params)), params))
}

mbnmf <- function(x, k = "auto", ..., solver = "mu", cd_w_sweeps = 10L, cd_h_sweeps = 5L,
                  cd_stats = "exact", max_memory = NULL, missing = "error", W = NULL, H = NULL) {
  model <- mbnmf_model(k = k, ..., solver = solver, cd_w_sweeps = cd_w_sweeps, cd_h_sweeps = cd_h_sweeps,
                       cd_stats = cd_stats, max_memory = max_memory, missing = missing)
  d <- .data(x)
  W <- .init_matrix(W, "W")
  H <- .init_matrix(H, "H")
  n_features <- if (is.list(d)) d[[5]] else ncol(d)
  kk <- if (is.numeric(k)) k else if (identical(k, "auto") && identical(model$params$init, "custom") && !is.null(H)) nrow(H) else n_features
  w <- .Call(mbnmf_c_fit_transform, model$state$ptr, d, W, H, kk)
  rownames(w) <- rownames(x)
  colnames(w) <- paste0("nmf", seq_len(ncol(w)))
  model$W <- w
  .after_update(model, colnames(x))
  .convergence_warning(model)
  model
}

partial_fit <- function(object, x, ...) UseMethod("partial_fit")

partial_fit.mbnmf <- function(object, x, W = NULL, H = NULL, ...) {
  .Call(mbnmf_c_partial_fit, .ptr(object), .data(x), .init_matrix(W, "W"), .init_matrix(H, "H"))
  .after_update(object, colnames(x))
}

predict.mbnmf <- function(object, newdata, ...) {
  if (missing(newdata)) {
    if (is.null(object$W)) stop("'newdata' is required (the model was not fitted by mbnmf())", call. = FALSE)
    return(object$W)
  }
  w <- .Call(mbnmf_c_transform, .ptr(object), .data(newdata, "newdata"))
  rownames(w) <- rownames(newdata)
  colnames(w) <- paste0("nmf", seq_len(ncol(w)))
  w
}

components <- function(object, ...) UseMethod("components")

components.mbnmf <- function(object, ...) {
  h <- .Call(mbnmf_c_components, .ptr(object))
  rownames(h) <- paste0("nmf", seq_len(nrow(h)))
  colnames(h) <- object$state$feature_names
  h
}

inverse_transform <- function(object, w, ...) UseMethod("inverse_transform")

inverse_transform.mbnmf <- function(object, w, ...) {
  x <- .Call(mbnmf_c_inverse_transform, .ptr(object), .data(w, "w"))
  rownames(x) <- rownames(w)
  colnames(x) <- object$state$feature_names
  x
}

.info <- function(object) .Call(mbnmf_c_info, .ptr(object))

print.mbnmf <- function(x, ...) {
  info <- .info(x)
  p <- x$params
  beta <- if (is.character(p$beta_loss)) p$beta_loss else paste0("beta = ", p$beta_loss)
  if (!info$fitted) {
    cat(sprintf("MiniBatchNMF model (not fitted), %s loss\n", beta))
  } else {
    cat(sprintf("MiniBatchNMF model: %d components, %d features, %s loss\n",
                as.integer(info$n_components), as.integer(info$n_features), beta))
    if (!is.na(info$n_iter)) {
      cat(sprintf("  fit: %d passes, %d mini-batches, stopped by %s, reconstruction error %.6g\n",
                  as.integer(info$n_iter), as.integer(info$n_steps), info$stop_reason, info$reconstruction_err))
    } else {
      cat(sprintf("  partial_fit: %d mini-batches\n", as.integer(info$n_steps)))
    }
  }
  invisible(x)
}

summary.mbnmf <- function(object, n_top = 5, ...) {
  info <- .info(object)
  top <- NULL
  if (info$fitted && !is.null(object$state$feature_names)) {
    h <- components(object)
    top <- t(apply(h, 1, function(r) names(sort(r, decreasing = TRUE))[seq_len(min(n_top, length(r)))]))
  }
  structure(list(info = info, params = object$params, top_features = top), class = "summary.mbnmf")
}

print.summary.mbnmf <- function(x, ...) {
  i <- x$info
  cat("MiniBatchNMF model\n")
  p <- x$params
  cat(sprintf("  k = %s, init = %s, beta_loss = %s, batch_size = %s, seed = %s\n",
              format(if (is.null(p$k)) "NULL" else p$k), format(if (is.null(p$init)) "NULL" else p$init),
              format(p$beta_loss), format(p$batch_size), format(if (is.null(p$seed)) "NULL" else p$seed)))
  if (i$fitted) {
    cat(sprintf("  %d components x %d features; %d mini-batches", as.integer(i$n_components),
                as.integer(i$n_features), as.integer(i$n_steps)))
    if (!is.na(i$n_iter))
      cat(sprintf("; fit: %d passes, stopped by %s, reconstruction error %.6g", as.integer(i$n_iter),
                  i$stop_reason, i$reconstruction_err))
    cat("\n")
  } else cat("  not fitted\n")
  if (!is.null(x$top_features)) {
    cat("  top features per component:\n")
    for (r in seq_len(nrow(x$top_features)))
      cat(sprintf("    %s: %s\n", rownames(x$top_features)[r], paste(x$top_features[r, ], collapse = " ")))
  }
  invisible(x)
}

mbnmf_save <- function(object, file) {
  if (!.Call(mbnmf_c_has_persist)) stop("this libminibatchnmf has no saving format (nmf_save_buffer)", call. = FALSE)
  bytes <- .Call(mbnmf_c_save, .ptr(object))
  writeBin(bytes, file)
  invisible(file)
}

mbnmf_load <- function(file) {
  bytes <- readBin(file, what = "raw", n = file.info(file)$size)
  ptr <- .Call(mbnmf_c_load, bytes)
  model <- .new_mbnmf(c(.r_params(.Call(mbnmf_c_get_params, ptr)), .r_ext(ptr)), ptr)
  model$state$bytes <- bytes
  model$state$fitted <- TRUE
  model
}

mbnmf_threads <- function(n = NULL) {
  if (is.null(n)) return(.Call(mbnmf_c_get_threads))
  invisible(.Call(mbnmf_c_set_threads, n))
}

mbnmf_version <- function() .Call(mbnmf_c_version)

.has_persist <- function() .Call(mbnmf_c_has_persist)
