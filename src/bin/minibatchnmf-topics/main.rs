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

use corpus::CsrMatrix;
use minibatchnmf::{
    BetaLoss, CsrView, FitSummary, Init, MiniBatchNmf, MiniBatchNmfParams, NmfFloat, StopReason,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
minibatchnmf-topics: topic extraction with MiniBatchNMF on the Free On-line
Dictionary of Computing (like scikit-learn's \"Topic extraction with NMF and LDA\").

USAGE: minibatchnmf-topics [OPTIONS]

Input (default: FOLDOC from target/foldoc/ as `make demo` unpacks it, else
/usr/share/dictd/ if dict-foldoc is installed, else the prepared matrix
../shared/data/foldoc_tfidf.mtx):
  --dict PATH          dictd data file (foldoc.dict, or foldoc.dict.dz via gzip -dc)
  --index PATH         dictd index [default: foldoc.index beside --dict]
  --mtx PATH           an already-vectorised matrix instead (MatrixMarket, 1-based)
  --vocab PATH         its column names, one per line [default: <mtx>_vocab.txt]

TF-IDF (as sklearn's TfidfVectorizer: lowercase, tokens of 2+ word characters,
English stop words, smooth idf, rows l2-normalised):
  --max-df F           drop terms in more than this share of documents [0.95]
  --min-df N           drop terms in fewer than N documents [2]
  --max-features N     keep the N most frequent terms, 0 = all [10000]
  --save-tfidf PREFIX  also write PREFIX.mtx and PREFIX_vocab.txt

Model (MiniBatchNMF parameters):
  -k, --n-components N number of topics [10]
  --beta LIST          comma-separated beta losses, one fit each: frobenius,
                       kullback-leibler, itakura-saito or a number
                       [frobenius,kullback-leibler]
  --batch-size N       rows per mini-batch [2048]
  --seed N|none        random_state [1]
  --init NAME          random, nndsvd, nndsvda, nndsvdar or none [nndsvda]
  --max-iter N         maximum passes over the data [200]
  --tol F              tolerance on the change of H [1e-4]
  --alpha-w F          regularisation of W [0]
  --alpha-h F|same     regularisation of H [same]
  --l1-ratio F         L1 share of the regularisation [0]
  --f32                factorise in f32 instead of f64
  --threads N          worker threads, 0 = one per core [0]
  --top N              words printed per topic [10]
  -q, --quiet          no per-step progress on stderr (verbose=False)
  -h, --help           this text
";

struct Args {
    dict: Option<PathBuf>,
    index: Option<PathBuf>,
    mtx: Option<PathBuf>,
    vocab: Option<PathBuf>,
    tfidf: tfidf::Options,
    save_tfidf: Option<PathBuf>,
    k: usize,
    betas: Vec<BetaLoss>,
    batch_size: usize,
    seed: Option<u32>,
    init: Init,
    max_iter: usize,
    tol: f64,
    alpha_w: f64,
    alpha_h: Option<f64>,
    l1_ratio: f64,
    f32: bool,
    threads: usize,
    top: usize,
    verbose: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        dict: None,
        index: None,
        mtx: None,
        vocab: None,
        tfidf: tfidf::Options {
            max_df: 0.95,
            min_df: 2,
            max_features: Some(10_000),
        },
        save_tfidf: None,
        k: 10,
        betas: vec![BetaLoss::Frobenius, BetaLoss::KullbackLeibler],
        batch_size: 2048,
        seed: Some(1),
        init: Init::Nndsvda,
        max_iter: 200,
        tol: 1e-4,
        alpha_w: 0.0,
        alpha_h: None,
        l1_ratio: 0.0,
        f32: false,
        threads: 0,
        top: 10,
        verbose: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (flag, None),
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: cannot parse {v:?}"))
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--dict" => a.dict = Some(value()?.into()),
            "--index" => a.index = Some(value()?.into()),
            "--mtx" => a.mtx = Some(value()?.into()),
            "--vocab" => a.vocab = Some(value()?.into()),
            "--max-df" => a.tfidf.max_df = num(&flag, value()?)?,
            "--min-df" => a.tfidf.min_df = num(&flag, value()?)?,
            "--max-features" => {
                let n: usize = num(&flag, value()?)?;
                a.tfidf.max_features = (n > 0).then_some(n);
            }
            "--save-tfidf" => a.save_tfidf = Some(value()?.into()),
            "-k" | "--n-components" => a.k = num(&flag, value()?)?,
            "--beta" => {
                a.betas = value()?
                    .split(',')
                    .map(|b| b.trim().parse::<BetaLoss>().map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?
            }
            "--batch-size" => a.batch_size = num(&flag, value()?)?,
            "--seed" => {
                let v = value()?;
                a.seed = if v == "none" || v == "None" {
                    None
                } else {
                    Some(num(&flag, v)?)
                };
            }
            "--init" => {
                a.init = value()?
                    .parse()
                    .map_err(|e: minibatchnmf::ParamError| e.to_string())?
            }
            "--max-iter" => a.max_iter = num(&flag, value()?)?,
            "--tol" => a.tol = num(&flag, value()?)?,
            "--alpha-w" => a.alpha_w = num(&flag, value()?)?,
            "--alpha-h" => {
                let v = value()?;
                a.alpha_h = if v == "same" {
                    None
                } else {
                    Some(num(&flag, v)?)
                };
            }
            "--l1-ratio" => a.l1_ratio = num(&flag, value()?)?,
            "--f32" => a.f32 = true,
            "--threads" => a.threads = num(&flag, value()?)?,
            "--top" => a.top = num(&flag, value()?)?,
            "-q" | "--quiet" => a.verbose = false,
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if a.dict.is_some() && a.mtx.is_some() {
        return Err("give --dict or --mtx, not both".into());
    }
    Ok(Some(a))
}

/// The vectorised corpus: the matrix, its column names, and where it came from.
struct Data {
    matrix: CsrMatrix,
    vocab: Vec<String>,
}

fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the input is when no path is given.
enum Source {
    Dict(PathBuf, PathBuf),
    /// The matrix, its vocabulary, and whether it stands in for FOLDOC.
    Mtx(PathBuf, PathBuf, bool),
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
    let mtx = project_dir().join("../shared/data/foldoc_tfidf.mtx");
    if mtx.is_file() {
        let vocab = mtx.with_file_name("foldoc_tfidf_vocab.txt");
        return Ok(Source::Mtx(mtx, vocab, true));
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
            Source::Mtx(m.clone(), vocab, false)
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
            let v = tfidf::tfidf(&c.docs, &args.tfidf)?;
            let o = &args.tfidf;
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
        Source::Mtx(mtx, vocab_path, fallback) => {
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
                "corpus: prepared TF-IDF matrix {}{}, read in {:.2} s",
                mtx.display(),
                if fallback {
                    " (FOLDOC's dictd files not found)"
                } else {
                    ""
                },
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
    }
}

/// Fit one model in precision `F` and print its summary and topics.
fn fit_and_print<F: NmfFloat>(
    data: &Data,
    params: MiniBatchNmfParams,
    top: usize,
) -> Result<f64, String> {
    let m = &data.matrix;
    let values: Vec<F> = m.data.iter().map(|&v| F::from_f64_(v)).collect();
    let x = CsrView::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &values)
        .map_err(|e| e.to_string())?;
    let mut model = MiniBatchNmf::<F>::new(params).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let s: FitSummary = model.fit(x).map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "fit in {secs:.2} s: n_iter {}, n_steps {}, stopped on {}, reconstruction_err {:.6}",
        s.n_iter,
        s.n_steps,
        stop_reason(s.stop_reason),
        s.reconstruction_err
    );
    for w in &s.warnings {
        println!("warning: {w}");
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

fn run(args: Args) -> Result<(), String> {
    let start = Instant::now();
    if args.threads > 0 {
        minibatchnmf::set_num_threads(args.threads)?;
    }
    let data = load(&args)?;
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
    let mut fit_secs = 0.0;
    for &beta in &args.betas {
        let mut params = MiniBatchNmfParams::new()
            .n_components(args.k)
            .init(args.init)
            .beta_loss(beta)
            .batch_size(args.batch_size)
            .max_iter(args.max_iter)
            .tol(args.tol)
            .alpha_w(args.alpha_w)
            .l1_ratio(args.l1_ratio)
            .random_state(args.seed)
            .verbose(args.verbose);
        if let Some(a) = args.alpha_h {
            params = params.alpha_h(minibatchnmf::AlphaH::Value(a));
        }
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
            args.alpha_h
                .map_or("'same'".to_string(), |a| format!("{a:?}")),
            args.l1_ratio,
            args.seed.map_or("None".to_string(), |s| s.to_string()),
        );
        fit_secs += if args.f32 {
            fit_and_print::<f32>(&data, params, args.top)?
        } else {
            fit_and_print::<f64>(&data, params, args.top)?
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
    match parse_args() {
        Ok(None) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some(args)) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("minibatchnmf-topics: error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("minibatchnmf-topics: {e}");
            ExitCode::from(2)
        }
    }
}
