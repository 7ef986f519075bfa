//! Command-line arguments (clap derive): one subcommand per task, every
//! scikit-learn parameter of `MiniBatchNMF` as a flag spelled with dashes.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Mini-Batch Non-negative Matrix Factorization (scikit-learn's MiniBatchNMF)
/// on data files bigger than memory, streamed by row blocks.
///
/// Data files: numpy .npy (dense; C or Fortran order; float or integer
/// types), scipy .npz (CSR, from scipy.sparse.save_npz), MatrixMarket .mtx
/// (coordinate). Model files: .safetensors.
///
/// Exit status: 0 ok, 2 bad input, 130 interrupted (Ctrl-C), 1 failed.
#[derive(Parser, Debug)]
#[command(name = "minibatchnmf", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// worker threads [default: all cores]
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// print nothing but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// print scikit-learn's per-step lines (instead of the progress bar)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fit a model on a data file and save it.
    Fit(Box<FitCmd>),
    /// Continue fitting a saved model on more rows (one online step per
    /// mini-batch of rows, as scikit-learn's partial_fit on each).
    PartialFit(PartialFitCmd),
    /// W (n_samples × n_components) of a data file with the model's H fixed.
    Transform(TransformCmd),
    /// X ≈ W·H back from W.
    InverseTransform(InverseCmd),
    /// The top terms of each component.
    Topics(TopicsCmd),
    /// Choose the number of components by cross-validation: hold out a
    /// random fraction of the observed entries, fit each candidate k on the
    /// rest, score the held-out entries with the model's beta-divergence,
    /// repeat; prints the table (k, mean, std, chosen) and draws the plot.
    Rank(Box<RankCmd>),
    /// What a model file holds.
    Info(InfoCmd),
}

/// Float type of the computation.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

/// scikit-learn's MiniBatchNMF parameters. Values are passed to the
/// library as scikit-learn spells them ("None"/"none" where scikit-learn
/// takes None) and checked there.
#[derive(Args, Debug, Default, Clone)]
pub struct Hyper {
    /// random, nndsvd, nndsvda, nndsvdar [default: auto: nndsvda if k <= min(n, m)]
    #[arg(long, value_name = "NAME")]
    pub init: Option<String>,
    /// frobenius, kullback-leibler, itakura-saito or a number [default: frobenius]
    #[arg(long, value_name = "BETA", allow_hyphen_values = true)]
    pub beta_loss: Option<String>,
    /// rows per mini-batch [default: 1024]
    #[arg(long, value_name = "N")]
    pub batch_size: Option<String>,
    /// most passes over the data [default: 200]
    #[arg(long, value_name = "N")]
    pub max_iter: Option<String>,
    /// stop when the relative change of H is at most this [default: 1e-4]
    #[arg(long, value_name = "TOL")]
    pub tol: Option<String>,
    /// stop after N mini-batches without a better smoothed cost, or none [default: 10]
    #[arg(long, value_name = "N")]
    pub max_no_improvement: Option<String>,
    /// regularisation of W [default: 0]
    #[arg(long = "alpha-w", value_name = "A")]
    pub alpha_w: Option<String>,
    /// regularisation of H, or "same" as alpha-w [default: same]
    #[arg(long = "alpha-h", value_name = "A")]
    pub alpha_h: Option<String>,
    /// share of L1 in the regularisation [default: 0]
    #[arg(long, value_name = "R")]
    pub l1_ratio: Option<String>,
    /// weight of past batches in H's statistics [default: 0.7]
    #[arg(long, value_name = "F")]
    pub forget_factor: Option<String>,
    /// solve W from scratch at every step
    #[arg(long)]
    pub fresh_restarts: bool,
    /// W updates per fresh restart [default: 30]
    #[arg(long, value_name = "N")]
    pub fresh_restarts_max_iter: Option<String>,
    /// W updates in transform, or none for max-iter [default: none]
    #[arg(long, value_name = "N")]
    pub transform_max_iter: Option<String>,
    /// seed, or none for a random one [default: none]
    #[arg(long, value_name = "SEED")]
    pub random_state: Option<String>,
    /// mu (scikit-learn's updates, every beta) or cd (coordinate descent, frobenius only) [default: mu]
    #[arg(long, value_name = "NAME")]
    pub solver: Option<String>,
    /// cd: coordinate sweeps over W's rows per mini-batch [default: 10]
    #[arg(long, value_name = "N")]
    pub cd_w_sweeps: Option<String>,
    /// cd: coordinate sweeps over H per mini-batch [default: 5]
    #[arg(long, value_name = "N")]
    pub cd_h_sweeps: Option<String>,
    /// cd: exact or decayed statistics of H [default: exact]
    #[arg(long, value_name = "FORM")]
    pub cd_stats: Option<String>,
    /// memory budget: bytes, or with a suffix (512M, 4G); a fit that needs
    /// more is refused up front [default: auto, the memory available]
    #[arg(long, value_name = "BYTES")]
    pub max_memory: Option<String>,
    /// missing values: error (refuse NaN), nan (NaN entries are missing) or
    /// unstored (the entries a sparse file does not store are missing;
    /// refused for dense data) [default: error]
    #[arg(long, value_name = "MODE")]
    pub missing: Option<String>,
}

impl Hyper {
    /// (scikit-learn name, value) of the flags given.
    pub fn given(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = [
            ("init", &self.init),
            ("beta_loss", &self.beta_loss),
            ("batch_size", &self.batch_size),
            ("max_iter", &self.max_iter),
            ("tol", &self.tol),
            ("max_no_improvement", &self.max_no_improvement),
            ("alpha_W", &self.alpha_w),
            ("alpha_H", &self.alpha_h),
            ("l1_ratio", &self.l1_ratio),
            ("forget_factor", &self.forget_factor),
            ("fresh_restarts_max_iter", &self.fresh_restarts_max_iter),
            ("transform_max_iter", &self.transform_max_iter),
            ("random_state", &self.random_state),
            ("solver", &self.solver),
            ("cd_w_sweeps", &self.cd_w_sweeps),
            ("cd_h_sweeps", &self.cd_h_sweeps),
            ("cd_stats", &self.cd_stats),
            ("max_memory", &self.max_memory),
            ("missing", &self.missing),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect();
        if self.fresh_restarts {
            v.push(("fresh_restarts", "True".into()));
        }
        v
    }
}

#[derive(Args, Debug)]
pub struct FitCmd {
    /// data file: X.npy, X.npz (scipy CSR) or X.mtx
    pub data: PathBuf,
    /// number of components, or "auto"/"none" [default: auto]
    #[arg(short = 'k', long, value_name = "K")]
    pub n_components: Option<String>,
    #[command(flatten)]
    pub hyper: Hyper,
    /// model file to write
    #[arg(short, long, value_name = "MODEL")]
    pub output: Option<PathBuf>,
    /// also write W (n_samples × k) to this .npy
    #[arg(long, value_name = "W.npy")]
    pub w_out: Option<PathBuf>,
    /// float type of the computation (the file's values are converted)
    /// [default: f64; with --resume, the checkpoint's]
    #[arg(long, value_enum)]
    pub dtype: Option<Dtype>,
    /// on Ctrl-C, save the model fitted so far here, with W and the fit's
    /// position beside it (MODEL.w.npy, MODEL.cursor), before exiting with
    /// status 130: `fit DATA --resume MODEL` finishes the same fit exactly;
    /// partial-fit also continues MODEL
    #[arg(long, value_name = "MODEL")]
    pub checkpoint: Option<PathBuf>,
    /// continue the interrupted fit saved by --checkpoint (on the same
    /// data; the parameters are the checkpoint's): the result equals the
    /// uninterrupted fit's bit for bit
    #[arg(long, value_name = "MODEL")]
    pub resume: Option<PathBuf>,
    /// stop as Ctrl-C does after this many mini-batch steps (for tests)
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after_steps: Option<usize>,
}

impl FitCmd {
    /// (scikit-learn name, value) of the parameters given.
    pub fn given(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = self
            .n_components
            .iter()
            .map(|k| ("n_components", k.clone()))
            .collect();
        v.extend(self.hyper.given());
        v
    }
}

#[derive(Args, Debug)]
pub struct RankCmd {
    /// data file: X.npy, X.npz (scipy CSR) or X.mtx
    pub data: PathBuf,
    /// the candidate numbers of components, comma-separated (2,4,8,16)
    #[arg(
        short = 'k',
        long = "ks",
        value_name = "K,K,...",
        value_delimiter = ',',
        required = true
    )]
    pub ks: Vec<usize>,
    /// fraction of the observed entries held out in each repeat
    #[arg(long, default_value_t = 0.1, value_name = "F")]
    pub test_fraction: f64,
    /// number of splits
    #[arg(long, default_value_t = 3, value_name = "R")]
    pub repeats: usize,
    /// seed of the splits (and, unless --random-state is given, of the
    /// fits' initialisation) [default: a random one, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// draw the score against k (PNG) here
    #[arg(long, value_name = "rank.png")]
    pub plot: Option<PathBuf>,
    /// float type of the computation (the file's values are converted) [default: f64]
    #[arg(long, value_enum)]
    pub dtype: Option<Dtype>,
    #[command(flatten)]
    pub hyper: Hyper,
}

#[derive(Args, Debug)]
pub struct PartialFitCmd {
    /// model file to continue (rewritten unless -o is given)
    pub model: PathBuf,
    /// data file with more rows
    pub data: PathBuf,
    /// rows per online step [default: the model's batch_size]
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// write the updated model here instead
    #[arg(short, long, value_name = "MODEL")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TransformCmd {
    /// model file
    pub model: PathBuf,
    /// data file
    pub data: PathBuf,
    /// W output (.npy)
    #[arg(short, long, value_name = "W.npy")]
    pub output: PathBuf,
    /// missing values in the data: error, nan or unstored [default: the model's]
    #[arg(long, value_name = "MODE")]
    pub missing: Option<String>,
}

#[derive(Args, Debug)]
pub struct InverseCmd {
    /// model file
    pub model: PathBuf,
    /// W (.npy, n_samples × n_components)
    pub w: PathBuf,
    /// X ≈ W·H output (.npy)
    #[arg(short, long, value_name = "X.npy")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct TopicsCmd {
    /// model file
    pub model: PathBuf,
    /// column names, one per line
    #[arg(long, value_name = "FILE")]
    pub vocab: PathBuf,
    /// terms per component
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
}

#[derive(Args, Debug)]
pub struct InfoCmd {
    /// model file
    pub model: PathBuf,
}
