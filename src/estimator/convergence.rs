//! Early stopping of the mini-batch loop (scikit-learn's
//! `_minibatch_convergence`: the smoothed batch cost, the change of H,
//! `max_no_improvement`) and its verbose lines, which print floats as
//! Python's `repr` does so they read exactly as scikit-learn's.

use super::StopReason;
use crate::params::ValidParams;

/// Smoothed-cost early stopping (scikit-learn's `_minibatch_convergence`).
pub(super) struct Convergence {
    /// The smoothed cost (None until the second step).
    pub(super) ewa_cost: Option<f64>,
    pub(super) ewa_cost_min: Option<f64>,
    pub(super) no_improvement: usize,
}

impl Convergence {
    pub(super) fn new() -> Self {
        Convergence {
            ewa_cost: None,
            ewa_cost_min: None,
            no_improvement: 0,
        }
    }

    /// `step` counts from 1. Returns the reason to stop, if any.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check(
        &mut self,
        params: &ValidParams,
        batch_rows: usize,
        n_samples: usize,
        batch_cost: f64,
        h_diff: f64,
        step: usize,
        n_steps: usize,
    ) -> Option<StopReason> {
        let verbose = params.get_verbose();
        if step == 1 {
            if verbose {
                eprintln!(
                    "Minibatch step {step}/{n_steps}: mean batch cost: {}",
                    py_float(batch_cost)
                );
            }
            return None;
        }
        let ewa = match self.ewa_cost {
            None => batch_cost,
            Some(prev) => {
                let alpha = (batch_rows as f64 / (n_samples as f64 + 1.0)).min(1.0);
                prev * (1.0 - alpha) + batch_cost * alpha
            }
        };
        self.ewa_cost = Some(ewa);
        if verbose {
            eprintln!(
                "Minibatch step {step}/{n_steps}: mean batch cost: {}, ewa cost: {}",
                py_float(batch_cost),
                py_float(ewa)
            );
        }
        let tol = params.get_tol();
        if tol > 0.0 && h_diff <= tol {
            if verbose {
                eprintln!("Converged (small H change) at step {step}/{n_steps}");
            }
            return Some(StopReason::SmallHChange);
        }
        match self.ewa_cost_min {
            Some(min) if ewa >= min => self.no_improvement += 1,
            _ => {
                self.no_improvement = 0;
                self.ewa_cost_min = Some(ewa);
            }
        }
        if let Some(max) = params.get_max_no_improvement() {
            if self.no_improvement >= max {
                if verbose {
                    eprintln!("Converged (lack of improvement in objective function) at step {step}/{n_steps}");
                }
                return Some(StopReason::NoImprovement);
            }
        }
        None
    }
}

/// Python's `repr` of a float (shortest round-trip digits, positional for
/// exponents in [-4, 16), else `d.ddde±XX`), so verbose lines read exactly
/// as scikit-learn's.
fn py_float(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Shortest round-trip digits and decimal exponent, e.g. "1.2345e-5".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let frac = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::py_float;

    #[test]
    fn floats_print_like_python_repr() {
        for (v, py) in [
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e15, "1000000000000000.0"),
            (2.0, "2.0"),
            (-0.25, "-0.25"),
            (612.920343622713, "612.920343622713"),
        ] {
            assert_eq!(py_float(v), py, "{v}");
        }
    }
}
