//! Topic extraction with MiniBatchNMF, after scikit-learn's example "Topic
//! extraction with Non-negative Matrix Factorization and Latent Dirichlet
//! Allocation", on the Free On-line Dictionary of Computing (FOLDOC).
//!
//! Reads FOLDOC in dictd format (Debian's `dict-foldoc`; `make demo` unpacks
//! it into `target/foldoc/` without installing the dictd daemon), builds a
//! TF-IDF matrix as scikit-learn's `TfidfVectorizer` would, fits MiniBatchNMF
//! with the Frobenius norm and then with the Kullback-Leibler divergence, and
//! prints the top words of each topic. `--help` lists the options.

mod corpus;
mod tfidf;

mod progress_bar;

use clap::Parser;
use corpus::CsrMatrix;
use minibatchnmf::{
    AlphaH, BetaLoss, CsrView, FitSummary, Init, MiniBatchNmf, MiniBatchNmfParams, NmfFloat,
    StopReason,
};
use progress_bar::FitBar;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Topic extraction with MiniBatchNMF on the Free On-line Dictionary of
/// Computing (like scikit-learn's "Topic extraction with NMF and LDA").
///
/// Input (default: FOLDOC from target/foldoc/ as `make demo` unpacks it, else
/// /usr/share/dictd/ if dict-foldoc is installed, else the 1000-definition
/// TF-IDF slice vendored in tests/data/). TF-IDF as sklearn's
/// TfidfVectorizer: lowercase, tokens of 2+ word characters, English stop
/// words, smooth idf, rows l2-normalised.
#[derive(Parser, Debug)]
#[command(name = "minibatchnmf-topics", version, about, long_about)]
struct Args {
    /// dictd data file (foldoc.dict, or foldoc.dict.dz via gzip -dc)
    #[arg(long, value_name = "PATH", conflicts_with = "mtx")]
    dict: Option<PathBuf>,
    /// dictd index [default: foldoc.index beside --dict]
    #[arg(long, value_name = "PATH")]
    index: Option<PathBuf>,
    /// an already-vectorised matrix instead (MatrixMarket, 1-based)
    #[arg(long, value_name = "PATH")]
    mtx: Option<PathBuf>,
    /// its column names, one per line [default: <mtx>_vocab.txt]
    #[arg(long, value_name = "PATH")]
    vocab: Option<PathBuf>,

    /// TF-IDF: drop terms in more than this share of documents
    #[arg(long, default_value_t = 0.95, value_name = "F")]
    max_df: f64,
    /// TF-IDF: drop terms in fewer than N documents
    #[arg(long, default_value_t = 2, value_name = "N")]
    min_df: usize,
    /// TF-IDF: keep the N most frequent terms, 0 = all
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_features: usize,
    /// also write PREFIX.mtx and PREFIX_vocab.txt
    #[arg(long, value_name = "PREFIX")]
    save_tfidf: Option<PathBuf>,
    /// only build the matrix (and write it with --save-tfidf): no fit
    #[arg(long)]
    no_fit: bool,

    /// number of topics
    #[arg(
        short = 'k',
        long = "n-components",
        default_value_t = 10,
        value_name = "N"
    )]
    k: usize,
    /// comma-separated beta losses, one fit each: frobenius,
    /// kullback-leibler, itakura-saito or a number
    #[arg(long = "beta", value_delimiter = ',', default_value = "frobenius,kullback-leibler",
          value_name = "LIST", value_parser = parse_beta)]
    betas: Vec<BetaLoss>,
    /// rows per mini-batch
    #[arg(long, default_value_t = 2048, value_name = "N")]
    batch_size: usize,
    /// random_state: a seed or "none"
    #[arg(long, default_value = "1", value_name = "N|none", value_parser = parse_seed)]
    seed: Seed,
    /// random, nndsvd, nndsvda, nndsvdar or none
    #[arg(long, default_value = "nndsvda", value_name = "NAME", value_parser = parse_init)]
    init: Init,
    /// maximum passes over the data
    #[arg(long, default_value_t = 200, value_name = "N")]
    max_iter: usize,
    /// tolerance on the change of H
    #[arg(long, default_value_t = 1e-4, value_name = "F")]
    tol: f64,
    /// regularisation of W
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    alpha_w: f64,
    /// regularisation of H: a number or "same"
    #[arg(long, default_value = "same", value_name = "F|same", value_parser = parse_alpha_h)]
    alpha_h: AlphaH,
    /// L1 share of the regularisation
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    l1_ratio: f64,
    /// factorise in f32 instead of f64
    #[arg(long)]
    f32: bool,
    /// worker threads, 0 = one per core
    #[arg(long, default_value_t = 0, value_name = "N")]
    threads: usize,
    /// words printed per topic
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// scikit-learn's per-step lines on stderr (verbose=1) instead of the progress bar
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,
    /// no progress bar
    #[arg(short, long)]
    quiet: bool,
}

/// `random_state`: a seed or None (a newtype, so clap does not read
/// `Option` as "the flag may be absent").
#[derive(Debug, Clone, Copy)]
struct Seed(Option<u32>);

fn parse_beta(s: &str) -> Result<BetaLoss, String> {
    s.trim().parse::<BetaLoss>().map_err(|e| e.to_string())
}

fn parse_seed(s: &str) -> Result<Seed, String> {
    match s {
        "none" | "None" => Ok(Seed(None)),
        v => v
            .parse()
            .map(|n| Seed(Some(n)))
            .map_err(|_| format!("{v:?} is not a seed (0..=4294967295) or none")),
    }
}

fn parse_init(s: &str) -> Result<Init, String> {
    s.parse()
        .map_err(|e: minibatchnmf::ParamError| e.to_string())
}

fn parse_alpha_h(s: &str) -> Result<AlphaH, String> {
    match s {
        "same" => Ok(AlphaH::Same),
        v => v
            .parse()
            .map(AlphaH::Value)
            .map_err(|_| format!("{v:?} is not a number or same")),
    }
}

impl Args {
    fn tfidf(&self) -> tfidf::Options {
        tfidf::Options {
            max_df: self.max_df,
            min_df: self.min_df,
            max_features: (self.max_features > 0).then_some(self.max_features),
        }
    }
}

/// The vectorised corpus: the matrix, its column names, and where it came from.
struct Data {
    matrix: CsrMatrix,
    vocab: Vec<String>,
}

fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the input is.
enum Source {
    Dict(PathBuf, PathBuf),
    /// A MatrixMarket matrix and its vocabulary.
    Mtx(PathBuf, PathBuf),
    /// The FOLDOC TF-IDF slice vendored in tests/data/ (`.npy` CSR parts).
    Vendored(PathBuf),
}

fn default_source() -> Result<Source, String> {
    let dicts = [
        project_dir().join("target/foldoc/foldoc.dict"),
        project_dir().join("target/foldoc/deb/usr/share/dictd/foldoc.dict.dz"),
        PathBuf::from("/usr/share/dictd/foldoc.dict.dz"),
    ];
    for d in dicts {
        let index = d.with_file_name("foldoc.index");
        if d.is_file() && index.is_file() {
            return Ok(Source::Dict(d, index));
        }
    }
    let vendored = project_dir().join("tests/data");
    if vendored.join("foldoc1000_data.npy").is_file() {
        return Ok(Source::Vendored(vendored));
    }
    Err("no FOLDOC input found: run `make demo` (it unpacks Debian's dict-foldoc into target/foldoc/), \
         or pass --dict/--mtx"
        .into())
}

fn load(args: &Args) -> Result<Data, String> {
    let source = match (&args.dict, &args.mtx) {
        (Some(d), _) => Source::Dict(
            d.clone(),
            args.index
                .clone()
                .unwrap_or_else(|| d.with_file_name("foldoc.index")),
        ),
        (_, Some(m)) => {
            let vocab = args.vocab.clone().unwrap_or_else(|| {
                let stem = m
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                m.with_file_name(format!("{stem}_vocab.txt"))
            });
            Source::Mtx(m.clone(), vocab)
        }
        _ => default_source()?,
    };
    let t = Instant::now();
    match source {
        Source::Dict(dict, index) => {
            let c = corpus::read_foldoc(&dict, &index)?;
            println!(
                "corpus: FOLDOC, {} definitions from {} (date stamps and [citations] removed), read in {:.2} s",
                c.docs.len(),
                dict.display(),
                t.elapsed().as_secs_f64()
            );
            let t = Instant::now();
            let o = &args.tfidf();
            let v = tfidf::tfidf(&c.docs, o)?;
            println!(
                "TF-IDF: lowercase, tokens of 2+ word characters, English stop words, max_df={}, min_df={}, \
                 max_features={}, smooth idf, rows l2-normalised; built in {:.2} s",
                o.max_df,
                o.min_df,
                o.max_features.map_or("None".to_string(), |n| n.to_string()),
                t.elapsed().as_secs_f64()
            );
            Ok(Data {
                matrix: v.matrix,
                vocab: v.vocab,
            })
        }
        Source::Vendored(dir) => {
            let (matrix, vocab) = corpus::read_vendored_slice(&dir)?;
            println!(
                "corpus: FOLDOC's dictd files not found (run `make demo` to fetch Debian's dict-foldoc); \
                 using the 1000-definition TF-IDF slice in {}",
                dir.display()
            );
            Ok(Data { matrix, vocab })
        }
        Source::Mtx(mtx, vocab_path) => {
            let matrix = corpus::read_mtx(&mtx)?;
            let vocab = corpus::read_lines(&vocab_path)?;
            if vocab.len() != matrix.n_cols {
                return Err(format!(
                    "{} has {} lines but {} has {} columns",
                    vocab_path.display(),
                    vocab.len(),
                    mtx.display(),
                    matrix.n_cols
                ));
            }
            println!(
                "corpus: prepared TF-IDF matrix {}, read in {:.2} s",
                mtx.display(),
                t.elapsed().as_secs_f64()
            );
            Ok(Data { matrix, vocab })
        }
    }
}

fn beta_name(b: BetaLoss) -> String {
    match b {
        BetaLoss::Frobenius => "'frobenius'".into(),
        BetaLoss::KullbackLeibler => "'kullback-leibler'".into(),
        BetaLoss::ItakuraSaito => "'itakura-saito'".into(),
        BetaLoss::Beta(v) => format!("{v}"),
    }
}

fn stop_reason(r: StopReason) -> &'static str {
    match r {
        StopReason::MaxIter => "max_iter passes done",
        StopReason::SmallHChange => "small change of H (tol)",
        StopReason::NoImprovement => "no improvement of the smoothed cost (max_no_improvement)",
        StopReason::Interrupted => "interrupted",
        _ => "stopped",
    }
}

/// Fit one model in precision `F` and print its summary and topics.
fn fit_and_print<F: NmfFloat>(
    data: &Data,
    params: MiniBatchNmfParams,
    args: &Args,
) -> Result<f64, String> {
    let top = args.top;
    let m = &data.matrix;
    let values: Vec<F> = m.data.iter().map(|&v| F::from_f64_(v)).collect();
    let x = CsrView::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &values)
        .map_err(|e| e.to_string())?;
    let mut model = MiniBatchNmf::<F>::new(params).map_err(|e| e.to_string())?;
    // A progress bar on a terminal unless --quiet or --verbose (which prints
    // scikit-learn's per-step lines instead).
    let bar = (!args.quiet && !args.verbose)
        .then(FitBar::on_terminal)
        .flatten()
        .map(Arc::new);
    if let Some(b) = &bar {
        model.set_observer(Some(b.clone()));
    }
    let t = Instant::now();
    let fitted = model.fit(x);
    if let Some(b) = &bar {
        b.finish();
    }
    let s: FitSummary = fitted.map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "fit in {secs:.2} s: n_iter {}, n_steps {}, stopped on {}, reconstruction_err {:.6}",
        s.n_iter,
        s.n_steps,
        stop_reason(s.stop_reason),
        s.reconstruction_err
    );
    // With --verbose the library has printed them with its progress lines.
    if !args.verbose {
        for w in &s.warnings {
            println!("warning: {w}");
        }
    }
    let h = model.components().map_err(|e| e.to_string())?;
    for (i, row) in h.outer_iter().enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| {
            row[b]
                .partial_cmp(&row[a])
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        let words: Vec<&str> = order
            .iter()
            .take(top)
            .map(|&j| data.vocab[j].as_str())
            .collect();
        println!("Topic #{i}: {}", words.join(" "));
    }
    Ok(secs)
}

fn run(args: &Args) -> Result<(), String> {
    let start = Instant::now();
    if args.threads > 0 {
        minibatchnmf::set_num_threads(args.threads)?;
    }
    let data = load(args)?;
    let m = &data.matrix;
    println!(
        "X: {} documents x {} terms, {} non-zeros ({:.3}% dense), f{}; {} worker thread(s)",
        m.n_rows,
        m.n_cols,
        m.data.len(),
        100.0 * m.data.len() as f64 / (m.n_rows as f64 * m.n_cols as f64),
        if args.f32 { 32 } else { 64 },
        minibatchnmf::num_threads()
    );
    if let Some(prefix) = &args.save_tfidf {
        let mtx = PathBuf::from(format!("{}.mtx", prefix.display()));
        let vocab = PathBuf::from(format!("{}_vocab.txt", prefix.display()));
        corpus::write_mtx(&mtx, m)?;
        std::fs::write(&vocab, data.vocab.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", vocab.display()))?;
        println!("wrote {} and {}", mtx.display(), vocab.display());
    }
    if args.no_fit {
        return Ok(());
    }
    let mut fit_secs = 0.0;
    for &beta in &args.betas {
        let params = MiniBatchNmfParams::new()
            .n_components(args.k)
            .init(args.init)
            .beta_loss(beta)
            .batch_size(args.batch_size)
            .max_iter(args.max_iter)
            .tol(args.tol)
            .alpha_w(args.alpha_w)
            .l1_ratio(args.l1_ratio)
            .random_state(args.seed.0)
            .alpha_h(args.alpha_h)
            .verbose(args.verbose);
        println!();
        println!(
            "== MiniBatchNMF(n_components={}, init={}, beta_loss={}, batch_size={}, max_iter={}, \
             alpha_W={:?}, alpha_H={}, l1_ratio={:?}, random_state={})",
            args.k,
            match args.init {
                Init::Auto => "None".to_string(),
                i => format!("'{}'", i.as_str()),
            },
            beta_name(beta),
            args.batch_size,
            args.max_iter,
            args.alpha_w,
            match args.alpha_h {
                AlphaH::Same => "'same'".to_string(),
                AlphaH::Value(a) => format!("{a:?}"),
            },
            args.l1_ratio,
            args.seed.0.map_or("None".to_string(), |s| s.to_string()),
        );
        fit_secs += if args.f32 {
            fit_and_print::<f32>(&data, params, args)?
        } else {
            fit_and_print::<f64>(&data, params, args)?
        };
    }
    println!();
    println!(
        "total {:.2} s ({:.2} s fitting)",
        start.elapsed().as_secs_f64(),
        fit_secs
    );
    Ok(())
}

fn main() -> ExitCode {
    // Output piped into a program that exits early (`| head`) ends the demo
    // quietly, as for any Unix tool, instead of a panic in println!.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread
    // starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Usage errors exit with 2 (clap), failures with 1.
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minibatchnmf-topics: error: {e}");
            ExitCode::FAILURE
        }
    }
}
