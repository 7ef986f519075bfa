//! The subcommands: library calls (`io` sources, the estimator, `persist`
//! model files) and what they print.

use crate::args::{
    Cli, Command, Dtype, FitCmd, InfoCmd, InverseCmd, PartialFitCmd, TopicsCmd, TransformCmd,
};
use crate::checkpoint;
use crate::report::{ctrl_c_flag, say, Level, Watcher};
use crate::Failure;
use minibatchnmf::io::{self, NpyRows, NpyWriter, RowSource};
use minibatchnmf::persist::{load_any, AnyModel};
use minibatchnmf::{Budget, Matrix, MaxMemory};
use minibatchnmf::{FitCursor, Input, MiniBatchNmf, MiniBatchNmfParams, NmfFloat, StopReason};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Runs the model's dtype's instance of a generic function.
macro_rules! with_model {
    ($any:expr, |$m:ident| $body:expr) => {
        match $any {
            AnyModel::F32($m) => $body,
            AnyModel::F64($m) => $body,
        }
    };
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    if let Some(n) = cli.threads {
        minibatchnmf::set_num_threads(n).map_err(Failure::input)?;
    }
    let level = if cli.quiet {
        Level::Quiet
    } else if cli.verbose {
        Level::Verbose
    } else {
        Level::Normal
    };
    match &cli.command {
        Command::Fit(c) => match &c.resume {
            Some(cp) => resume(c, cp, level),
            None => match c.dtype.unwrap_or(Dtype::F64) {
                Dtype::F32 => fit::<f32>(c, level),
                Dtype::F64 => fit::<f64>(c, level),
            },
        },
        Command::PartialFit(c) => with_model!(load_any(&c.model)?, |m| partial_fit(m, c, level)),
        Command::Transform(c) => with_model!(load_any(&c.model)?, |m| transform(m, c, level)),
        Command::InverseTransform(c) => {
            with_model!(load_any(&c.model)?, |m| inverse_transform(&m, c, level))
        }
        Command::Topics(c) => with_model!(load_any(&c.model)?, |m| topics(&m, c)),
        Command::Rank(c) => match c.dtype.unwrap_or(Dtype::F64) {
            Dtype::F32 => crate::rank::rank::<f32>(c, level),
            Dtype::F64 => crate::rank::rank::<f64>(c, level),
        },
        Command::Info(c) => {
            let any = load_any(&c.model)?;
            let dtype = any.dtype();
            with_model!(any, |m| info(&m, c, dtype))
        }
    }
}

pub fn open<F: NmfFloat>(path: &Path, level: Level) -> Result<Box<dyn RowSource<F>>, Failure> {
    open_within::<F>(path, level, MaxMemory::Auto)
}

/// [`open`] within the memory budget `max` (`--max-memory`).
pub fn open_within<F: NmfFloat>(
    path: &Path,
    level: Level,
    max: MaxMemory,
) -> Result<Box<dyn RowSource<F>>, Failure> {
    let src = io::open_with::<F>(path, &Budget::of(max))?;
    let (n, m) = src.shape();
    say(
        level,
        format!(
            "{}: {n} rows × {m} columns, {} ({} stored values), read as {}",
            path.display(),
            if src.is_sparse() { "sparse" } else { "dense" },
            src.nnz(),
            F::DTYPE
        ),
    );
    Ok(src)
}

pub fn write_npy<F: NmfFloat>(path: &Path, a: ndarray::ArrayView2<F>) -> Result<(), Failure> {
    let mut out = NpyWriter::<F>::create(path, a.dim())?;
    out.write_rows(a)?;
    out.finish()?;
    Ok(())
}

fn fit<F: NmfFloat>(c: &FitCmd, level: Level) -> Result<(), Failure> {
    let mut params = MiniBatchNmfParams::new();
    for (name, value) in c.given() {
        params.set_param(name, &value).map_err(|e| {
            Failure::input(format!("--{}: {e}", name.replace('_', "-").to_lowercase()))
        })?;
    }
    params
        .set_param(
            "verbose",
            if level == Level::Verbose {
                "True"
            } else {
                "False"
            },
        )
        .map_err(minibatchnmf::Error::from)?;
    let model = MiniBatchNmf::<F>::new(params)?;
    let src = open_within::<F>(&c.data, level, model.params().get_max_memory())?;
    run_fit(model, src, None, c, level)
}

/// `fit DATA --resume CHECKPOINT`: the interrupted fit, finished.
fn resume(c: &FitCmd, cp: &Path, level: Level) -> Result<(), Failure> {
    if let Some((name, _)) = c.given().first() {
        return Err(Failure::input(format!(
            "--resume: the fit's parameters are the checkpoint's; leave out --{}",
            name.replace('_', "-").to_lowercase()
        )));
    }
    let ck = checkpoint::read(cp)?;
    let wanted = match c.dtype {
        Some(Dtype::F32) => Some(f32::DTYPE),
        Some(Dtype::F64) => Some(f64::DTYPE),
        None => None,
    };
    if let Some(d) = wanted.filter(|&d| d != ck.model.dtype()) {
        return Err(Failure::input(format!(
            "--resume: {} is a {} fit, not {d} (leave out --dtype)",
            cp.display(),
            ck.model.dtype()
        )));
    }
    let (cursor, shape) = (ck.cursor, ck.shape);
    with_model!(ck.model, |m| resume_typed(m, cursor, shape, cp, c, level))
}

fn resume_typed<F: NmfFloat>(
    mut model: MiniBatchNmf<F>,
    cursor: FitCursor,
    shape: (usize, usize),
    cp: &Path,
    c: &FitCmd,
    level: Level,
) -> Result<(), Failure> {
    let src = open_within::<F>(&c.data, level, model.params().get_max_memory())?;
    if src.shape() != shape {
        return Err(Failure::input(format!(
            "--resume: {} has {} × {}, the checkpoint's fit was on {} × {}",
            c.data.display(),
            src.shape().0,
            src.shape().1,
            shape.0,
            shape.1
        )));
    }
    let k = model.n_components().unwrap_or(0);
    let w = checkpoint::read_w::<F>(cp, shape.0, k)?;
    model.set_param(
        "verbose",
        if level == Level::Verbose {
            "True"
        } else {
            "False"
        },
    )?;
    say(
        level,
        format!(
            "resuming the fit of {} after step {}",
            cp.display(),
            cursor.n_steps
        ),
    );
    run_fit(model, src, Some((w, cursor)), c, level)
}

/// The fit (new, or resumed from W and a cursor), its report, the
/// checkpoint on Ctrl-C and the outputs.
fn run_fit<F: NmfFloat>(
    mut model: MiniBatchNmf<F>,
    mut src: Box<dyn RowSource<F>>,
    resumed: Option<(ndarray::Array2<F>, FitCursor)>,
    c: &FitCmd,
    level: Level,
) -> Result<(), Failure> {
    let stop = ctrl_c_flag();
    let watcher = Arc::new(Watcher::new(level, stop).stop_after(c.stop_after_steps));
    model.set_observer(Some(watcher.clone()));
    let steps_before = resumed.as_ref().map_or(0, |r| r.1.n_steps);
    let t = Instant::now();
    let result = match resumed {
        // W in RAM, or in the --w-out file (else a scratch file) when it
        // does not fit the memory budget.
        None => model.fit_transform_source_to(src.as_mut(), c.w_out.as_deref()),
        Some((w, cursor)) => model
            .resume_fit_transform_source(src.as_mut(), w, &cursor)
            .map(|(w, cursor)| (Matrix::Ram(w), cursor)),
    };
    watcher.finish();
    let (mut w, cursor) = result?;
    let secs = t.elapsed().as_secs_f64();
    let s = model.last_fit().cloned().expect("fit sets last_fit");
    let n = src.shape().0;
    // Rows the mini-batches went through: whole passes, then full batches.
    let bs = model.params().get_batch_size().min(n).max(1);
    let per_pass = n.div_ceil(bs);
    let rows_after = |steps: usize| steps / per_pass * n + steps % per_pass * bs;
    let rows = rows_after(s.n_steps) - rows_after(steps_before.min(s.n_steps));
    say(
        level,
        format!(
            "fit in {secs:.2} s ({:.0} rows/s, initialisation included): n_iter {}, n_steps {}, stopped on {:?}, reconstruction_err {}",
            rows as f64 / secs.max(1e-9),
            s.n_iter,
            s.n_steps,
            s.stop_reason,
            s.reconstruction_err
        ),
    );
    for warning in &s.warnings {
        say(level, warning.to_string());
    }
    if s.stop_reason == StopReason::Interrupted {
        if let Some(cp) = &c.checkpoint {
            let cursor = cursor.expect("an interrupted fit has a cursor");
            checkpoint::write(cp, &model, w.view(), &cursor, src.shape())?;
            say(
                level,
                format!(
                    "checkpoint saved to {cp} (with {w} and {cur}) after step {}; finish this fit with: \
                     minibatchnmf fit {data} --resume {cp} (or continue online: minibatchnmf partial-fit {cp} {data})",
                    cursor.n_steps,
                    cp = cp.display(),
                    w = checkpoint::w_path(cp).display(),
                    cur = checkpoint::cursor_path(cp).display(),
                    data = c.data.display()
                ),
            );
        }
        return Err(Failure::interrupted("fit interrupted"));
    }
    if let Some(out) = &c.output {
        model.save(out)?;
        say(level, format!("model saved to {}", out.display()));
    }
    if let Some(path) = &c.w_out {
        // A W spilled to its file is there already.
        if !w.keep_file()? {
            write_npy(path, w.view())?;
        }
        say(
            level,
            format!(
                "W ({} × {}) saved to {}",
                w.dim().0,
                w.dim().1,
                path.display()
            ),
        );
    }
    if c.output.is_none() && c.w_out.is_none() {
        say(level, "nothing saved (give -o MODEL and/or --w-out W.npy)");
    }
    Ok(())
}

fn partial_fit<F: NmfFloat>(
    mut model: MiniBatchNmf<F>,
    c: &PartialFitCmd,
    level: Level,
) -> Result<(), Failure> {
    let mut src = open::<F>(&c.data, level)?;
    let n = src.shape().0;
    let bs = c
        .batch_size
        .unwrap_or_else(|| model.params().get_batch_size())
        .max(1);
    let t = Instant::now();
    let mut start = 0;
    while start < n {
        let end = (start + bs).min(n);
        let xb: Input<F> = src.rows(start, end)?;
        model.partial_fit(xb)?;
        start = end;
    }
    let out = c.output.as_ref().unwrap_or(&c.model);
    model.save(out)?;
    say(
        level,
        format!(
            "{} online steps of up to {bs} rows in {:.2} s; n_steps now {}; model saved to {}",
            n.div_ceil(bs),
            t.elapsed().as_secs_f64(),
            model.n_steps().unwrap_or(0),
            out.display()
        ),
    );
    Ok(())
}

fn transform<F: NmfFloat>(
    mut model: MiniBatchNmf<F>,
    c: &TransformCmd,
    level: Level,
) -> Result<(), Failure> {
    if let Some(mode) = &c.missing {
        model
            .set_param("missing", mode)
            .map_err(|e| Failure::input(format!("--missing: {e}")))?;
    }
    let mut src = open::<F>(&c.data, level)?;
    let t = Instant::now();
    let w = model.transform_source(src.as_mut())?;
    write_npy(&c.output, w.view())?;
    say(
        level,
        format!(
            "W ({} × {}) in {:.2} s saved to {}",
            w.nrows(),
            w.ncols(),
            t.elapsed().as_secs_f64(),
            c.output.display()
        ),
    );
    Ok(())
}

fn inverse_transform<F: NmfFloat>(
    model: &MiniBatchNmf<F>,
    c: &InverseCmd,
    level: Level,
) -> Result<(), Failure> {
    let mut w = NpyRows::<F>::open(&c.w)?;
    let (n, k) = w.shape();
    let m = model.n_features_in().unwrap_or(0);
    let mut out = NpyWriter::<F>::create(&c.output, (n, m))?;
    let rows = io::pass_rows::<F>(n, m.max(k), n * m.max(k), false);
    let mut start = 0;
    while start < n {
        let end = (start + rows).min(n);
        let block = match w.rows(start, end)? {
            Input::Dense(d) => model.inverse_transform(d)?,
            Input::Csr(_) => unreachable!(".npy blocks are dense"),
        };
        out.write_rows(block.view())?;
        start = end;
    }
    out.finish()?;
    say(
        level,
        format!("X ({n} × {m}) saved to {}", c.output.display()),
    );
    Ok(())
}

fn topics<F: NmfFloat>(model: &MiniBatchNmf<F>, c: &TopicsCmd) -> Result<(), Failure> {
    let h = model.components()?;
    let text = std::fs::read_to_string(&c.vocab)
        .map_err(|e| Failure::input(format!("{}: {e}", c.vocab.display())))?;
    let vocab: Vec<&str> = text.lines().collect();
    if vocab.len() != h.ncols() {
        return Err(Failure::input(format!(
            "{}: {} terms for a model of {} features",
            c.vocab.display(),
            vocab.len(),
            h.ncols()
        )));
    }
    for (i, row) in h.rows().into_iter().enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| {
            row[b]
                .partial_cmp(&row[a])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let words: Vec<&str> = order.iter().take(c.top).map(|&j| vocab[j]).collect();
        println!("Topic #{i}: {}", words.join(" "));
    }
    Ok(())
}

fn info<F: NmfFloat>(model: &MiniBatchNmf<F>, c: &InfoCmd, dtype: &str) -> Result<(), Failure> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!("model: {}", c.model.display());
    println!("dtype: {dtype}");
    println!(
        "n_components: {}",
        opt(model.n_components().map(|v| v.to_string()))
    );
    println!(
        "n_features_in: {}",
        opt(model.n_features_in().map(|v| v.to_string()))
    );
    println!("n_steps: {}", opt(model.n_steps().map(|v| v.to_string())));
    println!("n_iter: {}", opt(model.n_iter().map(|v| v.to_string())));
    println!(
        "reconstruction_err: {}",
        opt(model.reconstruction_err().map(|v| v.to_string()))
    );
    let p = model.params();
    for (name, value) in p.get_params().into_iter().chain(p.extension_params()) {
        println!("param {name}: {value}");
    }
    Ok(())
}
