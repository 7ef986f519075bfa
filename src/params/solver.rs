//! Extension parameters beyond scikit-learn's: the solver (`solver`) and
//! the coordinate-descent knobs (`cd_w_sweeps`, `cd_h_sweeps`, `cd_stats`).
//!
//! They are set and read by name like scikit-learn's parameters
//! ([`MiniBatchNmfParams::set_param`] / [`MiniBatchNmfParams::get_param`]),
//! but [`MiniBatchNmfParams::get_params`] keeps scikit-learn's list;
//! [`MiniBatchNmfParams::extension_params`] lists these.

use super::{invalid, parse, MiniBatchNmfParams, ParamError};

/// W sweeps per mini-batch of the cd solver (default of `cd_w_sweeps`).
///
/// Chosen by time to error on Fashion-MNIST 20000×784, k = 10, random
/// init, batch_size 1024, exact statistics (CPU seconds / error after 2, 3,
/// 5, 12 epochs): (w, h) = (1, 1) 0.31/734.9, 0.40/701.8, 0.49/672.6,
/// 1.22/649.4; (5, 3) 0.37/674.0, 0.41/661.8, 0.58/655.3, 1.39/650.9;
/// (10, 5) 0.40/661.7, 0.54/657.1, 0.74/653.8, 1.47/648.3;
/// (20, 5) 0.46/664.4, 0.62/657.1, 0.84/653.7, 1.91/648.6;
/// (10, 10) 0.40/668.2, 0.50/662.0, 0.79/656.8, 1.69/651.1. A W sweep
/// costs b·k² against the step's two b·m·k products, so sweeps are cheap
/// at small k; beyond (10, 5) they stop paying. Re-measured after the
/// sweeps became 8-lane (BENCHMARKS.md, "Where the cd time goes"): still
/// the best of the grid on Fashion; for wide sparse X (m ≫ batch_size,
/// TF-IDF) batch_size 2048 with (5, 2) is faster to a given error, as an
/// H update there costs m·k² per sweep against the batch's few stored
/// values.
pub const DEFAULT_CD_W_SWEEPS: usize = 10;
/// H sweeps per mini-batch of the cd solver (default of `cd_h_sweeps`;
/// see [`DEFAULT_CD_W_SWEEPS`] for the measurements).
pub const DEFAULT_CD_H_SWEEPS: usize = 5;

/// The algorithm of a mini-batch step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Solver {
    /// scikit-learn's MiniBatchNMF: multiplicative updates, every beta,
    /// scikit-learn's numbers bit for bit (the default).
    #[default]
    Mu,
    /// Online coordinate descent (HALS): W's rows of the batch by
    /// coordinate sweeps, H by coordinate sweeps on the statistics
    /// A = WᵀW, B = WᵀX. Frobenius loss only.
    Cd,
}

impl Solver {
    /// The parameter's spelling (`"mu"`, `"cd"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Solver::Mu => "mu",
            Solver::Cd => "cd",
        }
    }
}

impl std::str::FromStr for Solver {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        match s {
            "mu" => Ok(Solver::Mu),
            "cd" => Ok(Solver::Cd),
            other => Err(invalid(
                "solver",
                format!("got {other:?}, expected 'mu' or 'cd'"),
            )),
        }
    }
}

/// How the cd solver keeps the statistics A = WᵀW and B = WᵀX of H.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CdStats {
    /// Each batch replaces its rows' previous contribution:
    /// A ← A + W_newᵀW_new − W_oldᵀW_old, B ← B + (W_new − W_old)ᵀX_b,
    /// from the initial W's exact statistics; once every row has been
    /// visited A = WᵀW and B = WᵀX of the current W (the default: no
    /// forgetting bias; on Fashion-MNIST it reaches 648.3 in 12 epochs
    /// where the decayed form stalls near 660). H's penalty is scaled by
    /// all the rows the statistics stand for.
    #[default]
    Exact,
    /// Mairal et al.'s forgetting: A ← ρA + W_bᵀW_b, B ← ρB + W_bᵀX_b,
    /// with ρ from `forget_factor` as MiniBatchNMF defines it (H's penalty
    /// scaled by the decayed row count ρ·rows + batch rows). Ahead after
    /// one or two epochs, then stalls (Fashion-MNIST, 12 epochs: 655–664).
    Decayed,
}

impl CdStats {
    /// The parameter's spelling (`"exact"`, `"decayed"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            CdStats::Exact => "exact",
            CdStats::Decayed => "decayed",
        }
    }
}

impl std::str::FromStr for CdStats {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        match s {
            "exact" => Ok(CdStats::Exact),
            "decayed" => Ok(CdStats::Decayed),
            other => Err(invalid(
                "cd_stats",
                format!("got {other:?}, expected 'exact' or 'decayed'"),
            )),
        }
    }
}

/// The solver parameters' names, in the order
/// [`MiniBatchNmfParams::extension_params`] lists them.
pub(super) const NAMES: [&str; 4] = ["solver", "cd_w_sweeps", "cd_h_sweeps", "cd_stats"];

impl MiniBatchNmfParams {
    /// The solver: [`Solver::Mu`] (scikit-learn's MiniBatchNMF, the
    /// default) or [`Solver::Cd`] (online coordinate descent, Frobenius
    /// loss only; usually the fastest route to a good factorization).
    ///
    /// ```
    /// use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams, Init, Solver};
    /// let x = ndarray::array![[1.0, 0.0, 2.0], [0.5, 1.0, 0.0], [2.0, 0.1, 4.0], [0.0, 3.0, 0.2]];
    /// let params = MiniBatchNmfParams::new()
    ///     .n_components(2)
    ///     .init(Init::Nndsvda)
    ///     .solver(Solver::Cd)
    ///     .cd_w_sweeps(3)
    ///     .cd_h_sweeps(1)
    ///     .max_iter(50);
    /// let mut model = MiniBatchNmf::<f64>::new(params)?;
    /// let w = model.fit_transform(&x)?;
    /// assert_eq!(w.dim(), (4, 2));
    /// // The same by name, as Python, R, C and the CLI set it:
    /// let mut p = MiniBatchNmfParams::new();
    /// p.set_param("solver", "cd")?;
    /// p.set_param("cd_w_sweeps", "3")?;
    /// assert_eq!(p.get_param("solver")?, "cd");
    /// // cd is Frobenius only, and sweeps are >= 1:
    /// assert!(p.clone().beta(1.0).check().is_err());
    /// assert!(p.set_param("cd_h_sweeps", "0").is_ok() && p.check().is_err());
    /// # Ok::<(), minibatchnmf::Error>(())
    /// ```
    #[must_use]
    pub fn solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }
    /// The solver as set.
    pub fn get_solver(&self) -> Solver {
        self.solver
    }
    /// cd: coordinate sweeps over W's rows of each mini-batch (>= 1,
    /// default 10), warm-started from the rows' current values.
    #[must_use]
    pub fn cd_w_sweeps(mut self, sweeps: usize) -> Self {
        self.cd_w_sweeps = sweeps;
        self
    }
    /// `cd_w_sweeps` as set.
    pub fn get_cd_w_sweeps(&self) -> usize {
        self.cd_w_sweeps
    }
    /// cd: coordinate sweeps over H per mini-batch (>= 1, default 5).
    #[must_use]
    pub fn cd_h_sweeps(mut self, sweeps: usize) -> Self {
        self.cd_h_sweeps = sweeps;
        self
    }
    /// `cd_h_sweeps` as set.
    pub fn get_cd_h_sweeps(&self) -> usize {
        self.cd_h_sweeps
    }
    /// cd: how the statistics of H are kept (default [`CdStats::Exact`]).
    #[must_use]
    pub fn cd_stats(mut self, stats: CdStats) -> Self {
        self.cd_stats = stats;
        self
    }
    /// `cd_stats` as set.
    pub fn get_cd_stats(&self) -> CdStats {
        self.cd_stats
    }

    /// The solver's extension parameters by name, formatted as
    /// [`set_param`](Self::set_param) accepts them (part of
    /// [`extension_params`](Self::extension_params)).
    pub(super) fn solver_params(&self) -> Vec<(&'static str, String)> {
        vec![
            (NAMES[0], self.solver.as_str().to_string()),
            (NAMES[1], self.cd_w_sweeps.to_string()),
            (NAMES[2], self.cd_h_sweeps.to_string()),
            (NAMES[3], self.cd_stats.as_str().to_string()),
        ]
    }

    /// Set an extension parameter; `Ok(false)` when `name` is not one.
    pub(super) fn set_extension(&mut self, name: &str, value: &str) -> Result<bool, ParamError> {
        match name {
            "solver" => self.solver = value.parse()?,
            "cd_w_sweeps" => self.cd_w_sweeps = parse(value, "cd_w_sweeps")?,
            "cd_h_sweeps" => self.cd_h_sweeps = parse(value, "cd_h_sweeps")?,
            "cd_stats" => self.cd_stats = value.parse()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The checks of the extension parameters (part of `check`).
    pub(super) fn check_extension(&self, beta: f64) -> Result<(), ParamError> {
        if self.cd_w_sweeps < 1 {
            return Err(invalid("cd_w_sweeps", "must be >= 1, got 0"));
        }
        if self.cd_h_sweeps < 1 {
            return Err(invalid("cd_h_sweeps", "must be >= 1, got 0"));
        }
        if self.solver == Solver::Cd && beta != 2.0 {
            return Err(invalid(
                "solver",
                format!(
                    "'cd' minimises the Frobenius loss only (beta_loss='frobenius'), got beta = {beta}; use solver='mu' for other losses"
                ),
            ));
        }
        Ok(())
    }
}
