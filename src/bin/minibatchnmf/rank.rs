//! `minibatchnmf rank`: the number of components by cross-validation on
//! held-out entries (the library's `cross_validate_rank`, over the file's
//! row source), its table on standard output and the plot.

use crate::args::RankCmd;
use crate::commands::open_within;
use crate::plot;
use crate::report::{say, Level};
use crate::Failure;
use minibatchnmf::{cross_validate_rank, CvOptions, MiniBatchNmfParams, NmfFloat};
use std::hash::BuildHasher;
use std::time::Instant;

pub fn rank<F: NmfFloat>(c: &RankCmd, level: Level) -> Result<(), Failure> {
    let mut params = MiniBatchNmfParams::new();
    for (name, value) in c.hyper.given() {
        params.set_param(name, &value).map_err(|e| {
            Failure::input(format!("--{}: {e}", name.replace('_', "-").to_lowercase()))
        })?;
    }
    let verbose = if level == Level::Verbose {
        "True"
    } else {
        "False"
    };
    params
        .set_param("verbose", verbose)
        .map_err(minibatchnmf::Error::from)?;
    // No seed: a random one, printed so that the run can be repeated.
    let seed = c.seed.unwrap_or_else(|| {
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now()) >> 1
    });
    if c.hyper.random_state.is_none() {
        // The fits' initialisation follows the seed too (reproducible runs).
        params
            .set_param("random_state", &(seed % (1 << 32)).to_string())
            .map_err(minibatchnmf::Error::from)?;
    }
    let mut src = open_within::<F>(&c.data, level, params.get_max_memory())?;
    let opts = CvOptions {
        test_fraction: c.test_fraction,
        n_repeats: c.repeats,
        seed,
    };
    say(
        level,
        format!(
            "cross-validating k in {:?}: {} repeats, {}% of the observed entries held out, seed {seed}",
            c.ks,
            c.repeats,
            100.0 * c.test_fraction
        ),
    );
    let t = Instant::now();
    let cv = cross_validate_rank(src.as_mut(), &params, &c.ks, &opts)?;
    say(
        level,
        format!(
            "{} fits in {:.2} s",
            c.ks.len() * c.repeats,
            t.elapsed().as_secs_f64()
        ),
    );
    println!("{:>6} {:>14} {:>12}  chosen", "k", "mean", "std");
    for (i, &k) in cv.ks.iter().enumerate() {
        println!(
            "{k:>6} {:>14.6e} {:>12.3e}  {}",
            cv.mean[i],
            cv.std[i],
            if k == cv.best_k { "*" } else { "" }
        );
    }
    println!(
        "chosen k = {} (the smallest k within one standard error of the best mean)",
        cv.best_k
    );
    if let Some(path) = &c.plot {
        let mean = cv.mean.to_vec();
        let std = cv.std.to_vec();
        plot::rank_plot(&cv.ks, &mean, &std, cv.best_k).write_png(path)?;
        say(level, format!("plot saved to {}", path.display()));
    }
    Ok(())
}
