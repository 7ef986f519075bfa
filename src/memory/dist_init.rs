//! The memory check of a distributed fit's nndsvd initialisation, made
//! after the preflight exchange (when the rows of all ranks are known).
//!
//! Every rank runs the randomized SVD of the *whole* X: the products with
//! X are gathered into N×(k+10) blocks (N the rows of all ranks), the
//! LU/QR/SVD steps run on them on every rank, and every rank builds the
//! whole N×k W before keeping its own rows ([`crate::init`]). So this part
//! grows with N on each rank, not with the rank's shard; the streamed SVD
//! that bounds a one-process fit (`Plan::stream_init`) does not apply.
//! Over the budget of any rank, every rank refuses the fit up front with
//! [`Error::OutOfMemory`] (agreed through one more reduce).

use super::{bytes_of, probe, show, sum, Budget, Bytes};
use crate::dist::Shard;
use crate::error::{Error, Result};
use crate::params::{Init, MiniBatchNmfParams};

/// The hint of a distributed fit whose initialisation does not fit.
const HINT: &str = "use init='random' (each rank then holds its own rows of W only, \
     and nothing of the rows of all ranks), lower n_components, or raise max_memory on \
     the ranks (CLI --max-memory, nmf_set_param \"max_memory\") if that much memory is \
     really free; the streamed SVD that bounds a one-process fit does not apply to a \
     distributed one";

/// What the distributed nndsvd initialisation needs on each rank, and a
/// description of it (None: the initialisation makes no SVD).
fn need(
    params: &MiniBatchNmfParams,
    shard: &Shard,
    k: usize,
    elem: usize,
) -> Option<(Bytes, String)> {
    let (n, m, n_local) = (shard.n_total, shard.n_features, shard.n_local);
    let fits = k >= 1 && k <= n.min(m);
    let svd = match params.get_init() {
        Init::Nndsvd | Init::Nndsvda | Init::Nndsvdar => fits,
        Init::Auto => fits,
        Init::Random | Init::Custom => false,
    };
    if !svd {
        return None;
    }
    let l = k.saturating_add(10);
    // As the one-process preflight counts the in-RAM SVD (four blocks of
    // each side, Xᵀ·X for m ≤ 2048), with N rows; plus the whole N×k W,
    // the shard's copy of its rows, H with its statistics, the workspaces
    // of a mini-batch and the row blocks of a pass.
    let blocks = sum([
        bytes_of(&[4, n, l], elem),
        bytes_of(&[4, m, l], elem),
        bytes_of(&[4, m.min(2048), m.min(2048)], 8),
    ]);
    let w_all = bytes_of(&[n, k], elem);
    let threads = crate::parallel::num_threads().max(1);
    let bs = params.get_batch_size().min(n.max(1));
    let rest = sum([
        bytes_of(&[n_local, k], elem),
        bytes_of(&[3, k, m], elem),
        bytes_of(&[threads + 2, 2, k, m], elem),
        bytes_of(&[4, bs, k.saturating_add(m)], elem),
        // A pass's row blocks, as the one-process preflight counts them.
        bytes_of(&[n_local, m], elem + 8)
            .map(|b| 4 * b.min(crate::io::PASS_BYTES as u64))
            .or(Some(4 * crate::io::PASS_BYTES as u64)),
    ]);
    let total = sum([blocks, w_all, rest]);
    let what = format!(
        "the initialisation (init='{}') of a distributed fit on {n}×{m} (all {} ranks) with \
         n_components={k}: every rank computes the randomized SVD of the whole X and the whole \
         W before keeping its {n_local} rows (SVD blocks of the {n} rows: {}, W: {}, the rest \
         of the fit: {})",
        params.get_init().as_str(),
        shard.n_ranks,
        show(blocks),
        show(w_all),
        show(rest),
    );
    Some((total, what))
}

/// Checks, on every rank after [`crate::dist::preflight`], that the
/// initialisation of a distributed fit fits this rank's budget and the
/// system's allocator; then agrees with the other ranks through one
/// reduce (only when the initialisation makes an SVD, the same decision on
/// every rank: the parameters, k and the global shape are agreed), so
/// that a rank over budget makes every rank fail with
/// [`Error::OutOfMemory`] before anything of N rows is allocated.
/// One process: nothing to do (its preflight counted the SVD).
pub(crate) fn dist_init_check(
    params: &MiniBatchNmfParams,
    shard: &Shard,
    k: usize,
    elem: usize,
    comm: crate::dist::Comm,
) -> Result<()> {
    if comm.is_single() {
        return Ok(());
    }
    let Some((total, what)) = need(params, shard, k, elem) else {
        return Ok(());
    };
    let local = Budget::of(params.get_max_memory())
        .check(what.clone(), total, HINT)
        .and_then(|()| probe(&what, total.unwrap_or(u64::MAX)));
    let mut flag = [if local.is_err() { 1.0 } else { 0.0 }];
    comm.sum_f64(&mut flag)?;
    local?;
    if flag[0] > 0.0 {
        return Err(Error::OutOfMemory {
            what: format!("{what}, on {} other rank(s)", flag[0]),
            needed: show(total),
            budget: "the budget of those ranks".into(),
            hint: HINT.into(),
        });
    }
    Ok(())
}
