//! The checkpoint of an interrupted `fit` (`--checkpoint MODEL`), which
//! `fit DATA --resume MODEL` finishes exactly:
//!
//! - `MODEL`: the model file (H, its online statistics, the parameters,
//!   n_steps), which `partial-fit` also continues;
//! - `MODEL.w.npy`: W (n_samples × n_components) as the loop left it;
//! - `MODEL.cursor`: the rest of the loop's state ([`FitCursor`]: the steps
//!   done, the smoothed cost, its minimum and the steps without
//!   improvement) and the data's shape, one `key value` per line, floats in
//!   the shortest form that reads back to the same bits.
//!
//! W is written first, then the cursor, then the model, each replacing its
//! file only once complete; reading checks that the three agree.

use crate::commands::write_npy;
use crate::Failure;
use minibatchnmf::io::{NpyRows, RowSource};
use minibatchnmf::persist::{self, load_any, AnyModel};
use minibatchnmf::FitCursor;
use minibatchnmf::{Input, MiniBatchNmf, NmfFloat};
use ndarray::{Array2, ArrayView2};
use std::path::{Path, PathBuf};

const MAGIC: &str = "minibatchnmf fit cursor 1";

fn beside(cp: &Path, ext: &str) -> PathBuf {
    let mut s = cp.as_os_str().to_os_string();
    s.push(ext);
    PathBuf::from(s)
}

/// Where W of checkpoint `cp` is.
pub fn w_path(cp: &Path) -> PathBuf {
    beside(cp, ".w.npy")
}

/// Where the cursor of checkpoint `cp` is.
pub fn cursor_path(cp: &Path) -> PathBuf {
    beside(cp, ".cursor")
}

fn opt_float(v: Option<f64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| format!("{v:?}"))
}

/// Writes the three files of the checkpoint `cp`.
pub fn write<F: NmfFloat>(
    cp: &Path,
    model: &MiniBatchNmf<F>,
    w: ArrayView2<F>,
    cursor: &FitCursor,
    shape: (usize, usize),
) -> Result<(), Failure> {
    let wp = w_path(cp);
    let tmp = beside(&wp, ".tmp");
    write_npy(&tmp, w)?;
    std::fs::rename(&tmp, &wp)
        .map_err(|e| Failure::input(format!("cannot write {}: {e}", wp.display())))?;
    let text = format!(
        "{MAGIC}\ndtype {}\nrows {}\ncolumns {}\nn_steps {}\newa_cost {}\newa_cost_min {}\nno_improvement {}\n",
        F::DTYPE,
        shape.0,
        shape.1,
        cursor.n_steps,
        opt_float(cursor.ewa_cost),
        opt_float(cursor.ewa_cost_min),
        cursor.no_improvement
    );
    persist::write_atomic(&cursor_path(cp), text.as_bytes())?;
    model.save(cp)?;
    Ok(())
}

/// A checkpoint read back: the model, the cursor and the data's shape.
pub struct Checkpoint {
    pub model: AnyModel,
    pub cursor: FitCursor,
    pub shape: (usize, usize),
}

/// Reads the model and the cursor of checkpoint `cp` (W: [`read_w`]).
pub fn read(cp: &Path) -> Result<Checkpoint, Failure> {
    let model = load_any(cp)?;
    let cpath = cursor_path(cp);
    let text = std::fs::read_to_string(&cpath).map_err(|e| {
        Failure::input(format!(
            "{}: {e} (a checkpoint written by fit --checkpoint has it beside the model)",
            cpath.display()
        ))
    })?;
    let bad = |what: &str| Failure::input(format!("{}: {what}", cpath.display()));
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(bad("not a fit cursor of this program"));
    }
    let mut get = |key: &str| -> Result<String, Failure> {
        match lines.next().and_then(|l| l.split_once(' ')) {
            Some((k, v)) if k == key => Ok(v.to_string()),
            _ => Err(bad(&format!("expected the line '{key} …'"))),
        }
    };
    let count = |v: String, key: &str| {
        v.parse::<usize>()
            .map_err(|_| bad(&format!("{key}: not a count: {v}")))
    };
    let float = |v: String, key: &str| -> Result<Option<f64>, Failure> {
        if v == "none" {
            return Ok(None);
        }
        v.parse::<f64>()
            .map(Some)
            .map_err(|_| bad(&format!("{key}: not a number: {v}")))
    };
    let dtype = get("dtype")?;
    let rows = count(get("rows")?, "rows")?;
    let columns = count(get("columns")?, "columns")?;
    let cursor = FitCursor {
        n_steps: count(get("n_steps")?, "n_steps")?,
        ewa_cost: float(get("ewa_cost")?, "ewa_cost")?,
        ewa_cost_min: float(get("ewa_cost_min")?, "ewa_cost_min")?,
        no_improvement: count(get("no_improvement")?, "no_improvement")?,
    };
    if dtype != model.dtype() {
        return Err(bad(&format!(
            "the cursor is of a {dtype} fit, the model {} is {}",
            cp.display(),
            model.dtype()
        )));
    }
    Ok(Checkpoint {
        model,
        cursor,
        shape: (rows, columns),
    })
}

/// W of checkpoint `cp`, which must be `rows` × `k`.
pub fn read_w<F: NmfFloat>(cp: &Path, rows: usize, k: usize) -> Result<Array2<F>, Failure> {
    let wp = w_path(cp);
    let mut src = NpyRows::<F>::open(&wp)?;
    if src.shape() != (rows, k) {
        return Err(Failure::input(format!(
            "{}: W is {} × {}, the checkpoint's fit needs {rows} × {k}",
            wp.display(),
            src.shape().0,
            src.shape().1
        )));
    }
    match src.rows(0, rows)? {
        Input::Dense(d) => Ok(d.to_owned()),
        Input::Csr(_) => unreachable!(".npy rows are dense"),
    }
}
