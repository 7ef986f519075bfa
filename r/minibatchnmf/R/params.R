# Parameters: scikit-learn's names and defaults, checked here for their R
# types; ranges are checked by the library (nmf_create / nmf_set_params).

.beta_names <- c("frobenius" = 2, "kullback-leibler" = 1, "itakura-saito" = 0)
.init_codes <- c("random" = 1, "nndsvd" = 2, "nndsvda" = 3, "nndsvdar" = 4, "custom" = 5)

.scalar_num <- function(v, name) {
  if (!is.numeric(v) || length(v) != 1L || is.na(v)) stop(sprintf("'%s' must be a single number", name), call. = FALSE)
  as.double(v)
}

.count <- function(v, name) {
  v <- .scalar_num(v, name)
  if (v != round(v)) stop(sprintf("'%s' must be a whole number", name), call. = FALSE)
  v
}

# The list the C glue turns into an NmfParams (src/glue.c: params_of).
.c_params <- function(p) {
  k <- p$k
  if (identical(k, "auto")) {
    mode <- 0; kk <- 0
  } else if (is.null(k)) {
    mode <- 1; kk <- 0
  } else {
    mode <- 2; kk <- .count(k, "k")
    if (kk < 1) stop("'k' must be at least 1, NULL or \"auto\"", call. = FALSE)
  }
  init <- if (is.null(p$init)) 0 else {
    if (!is.character(p$init) || !p$init %in% names(.init_codes))
      stop("'init' must be NULL or one of ", paste(dQuote(names(.init_codes), FALSE), collapse = ", "), call. = FALSE)
    .init_codes[[p$init]]
  }
  beta <- if (is.character(p$beta_loss)) {
    if (!p$beta_loss %in% names(.beta_names))
      stop("'beta_loss' must be a number or one of ", paste(dQuote(names(.beta_names), FALSE), collapse = ", "), call. = FALSE)
    .beta_names[[p$beta_loss]]
  } else .scalar_num(p$beta_loss, "beta_loss")
  same <- identical(p$alpha_H, "same")
  seed_none <- is.null(p$seed)
  list(
    n_components_mode = mode, n_components = kk, init = init,
    batch_size = .count(p$batch_size, "batch_size"), beta_loss = beta, tol = .scalar_num(p$tol, "tol"),
    max_no_improvement = if (is.null(p$max_no_improvement)) 0 else .count(p$max_no_improvement, "max_no_improvement"),
    max_no_improvement_is_none = is.null(p$max_no_improvement),
    max_iter = .count(p$max_iter, "max_iter"), alpha_w = .scalar_num(p$alpha_W, "alpha_W"),
    alpha_h = if (same) 0 else .scalar_num(p$alpha_H, "alpha_H"), alpha_h_is_same = same,
    l1_ratio = .scalar_num(p$l1_ratio, "l1_ratio"), forget_factor = .scalar_num(p$forget_factor, "forget_factor"),
    fresh_restarts = isTRUE(p$fresh_restarts),
    fresh_restarts_max_iter = .count(p$fresh_restarts_max_iter, "fresh_restarts_max_iter"),
    transform_max_iter = if (is.null(p$transform_max_iter)) 0 else .count(p$transform_max_iter, "transform_max_iter"),
    transform_max_iter_is_none = is.null(p$transform_max_iter),
    random_state = if (seed_none) 0 else .count(p$seed, "seed"), random_state_is_none = seed_none,
    verbose = isTRUE(as.logical(p$verbose))
  )
}

# The R-level parameters back from the C list (for mbnmf_load).
.r_params <- function(q) {
  list(
    k = switch(as.character(q$n_components_mode), "0" = "auto", "1" = NULL, q$n_components),
    init = if (q$init == 0) NULL else names(.init_codes)[match(q$init, .init_codes)],
    batch_size = q$batch_size,
    beta_loss = if (q$beta_loss %in% .beta_names) names(.beta_names)[match(q$beta_loss, .beta_names)] else q$beta_loss,
    tol = q$tol,
    max_no_improvement = if (q$max_no_improvement_is_none != 0) NULL else q$max_no_improvement,
    max_iter = q$max_iter, alpha_W = q$alpha_w,
    alpha_H = if (q$alpha_h_is_same != 0) "same" else q$alpha_h,
    l1_ratio = q$l1_ratio, forget_factor = q$forget_factor,
    fresh_restarts = q$fresh_restarts != 0, fresh_restarts_max_iter = q$fresh_restarts_max_iter,
    transform_max_iter = if (q$transform_max_iter_is_none != 0) NULL else q$transform_max_iter,
    seed = if (q$random_state_is_none != 0) NULL else q$random_state,
    verbose = q$verbose != 0
  )
}

# Parameters beyond scikit-learn's (the library's solver and memory budget),
# passed by name with nmf_set_param and validated by the library.
.ext_defaults <- list(solver = "mu", cd_w_sweeps = 10L, cd_h_sweeps = 5L, cd_stats = "exact", max_memory = NULL,
                      missing = "error")
# "missing" first, the solver last: "cd" is checked against the other parameters (Frobenius only).
.ext_order_all <- c("missing", "cd_w_sweeps", "cd_h_sweeps", "cd_stats", "max_memory", "solver")
# The names this build of the library knows ("missing" came with the rank's cross-validation).
.ext_order <- function() if (.Call(mbnmf_c_has_missing)) .ext_order_all else setdiff(.ext_order_all, "missing")

.ext_value <- function(v, name) {
  if (name == "max_memory" && is.null(v)) return("auto")
  if (name %in% c("cd_w_sweeps", "cd_h_sweeps")) return(format(.count(v, name), scientific = FALSE))
  if (name == "max_memory" && is.numeric(v)) return(format(.count(v, name), scientific = FALSE))
  if (!is.character(v) || length(v) != 1L || is.na(v))
    stop(sprintf("'%s' must be a single string", name), call. = FALSE)
  v
}

# Give the handle `ptr` the extension parameters of `p` (R errors with the
# library's message for a refused value).
.apply_ext <- function(ptr, p) {
  if (!.Call(mbnmf_c_has_missing) && !identical(p$missing %||% "error", "error"))
    stop("this libminibatchnmf has no 'missing' parameter (missing values): missing must be \"error\"", call. = FALSE)
  for (name in .ext_order()) {
    v <- if (name %in% names(p)) p[[name]] else .ext_defaults[[name]]
    .Call(mbnmf_c_set_param, ptr, name, .ext_value(v, name))
  }
  invisible(ptr)
}

# The extension parameters of a handle (a loaded model's), as mbnmf_model takes them.
.r_ext <- function(ptr) {
  get <- function(name) .Call(mbnmf_c_get_param, ptr, name)
  mem <- get("max_memory")
  list(solver = get("solver"), cd_w_sweeps = as.integer(get("cd_w_sweeps")),
       cd_h_sweeps = as.integer(get("cd_h_sweeps")), cd_stats = get("cd_stats"),
       max_memory = if (identical(mem, "auto")) NULL else if (grepl("^[0-9]+$", mem)) as.numeric(mem) else mem,
       missing = if (.Call(mbnmf_c_has_missing)) get("missing") else "error")
}

`%||%` <- function(a, b) if (is.null(a)) b else a
