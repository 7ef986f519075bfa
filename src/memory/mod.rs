//! The memory budget: what a call may allocate, what it needs, and
//! allocations that fail with an error instead of aborting the process.
//!
//! * [`MaxMemory`] is the `max_memory` extension parameter: `auto` (the
//!   default) or a number of bytes (`"512M"`, `"4G"`, `"1073741824"`).
//! * [`Budget`] resolves it: `auto` is the least of what the system reports
//!   available (`MemAvailable` of `/proc/meminfo`), the room left under the
//!   process's address-space limit (`ulimit -v`) and under its cgroup's
//!   `memory.max`; no limit when none of these is known.
//! * Before allocating anything sized by a file's header or a claimed shape,
//!   the readers and the estimator add up what the call needs and ask the
//!   budget ([`Budget::check`]); over it, the call fails with
//!   [`Error::OutOfMemory`], saying what needs how much and how to proceed.
//! * Then the same amount is reserved once from the allocator and released
//!   ([`probe`]): an address-space limit or an overcommit policy that would
//!   refuse the fit refuses it here, as the same error, instead of aborting
//!   the process half-way (Rust aborts on a failed allocation). Buffers a
//!   reader sizes from a file are allocated with `try_reserve`
//!   ([`try_grow`]).
//! * A fit whose W (n_samples × n_components) does not fit the budget
//!   while the rest does keeps W in a memory-mapped file instead
//!   ([`Matrix`], [`spill`]): the preflight says so ([`Plan::spill_w`]),
//!   and the fit's resident memory stays within the budget whatever the
//!   number of rows.

use crate::error::{Error, Result};
use std::fmt;

mod dist_init;
mod matrix;
mod spill;

pub(crate) use dist_init::dist_init_check;

pub use matrix::{MappedFile, Matrix};
pub(crate) use matrix::{Paged, Placement};

/// The `max_memory` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MaxMemory {
    /// What the system reports available (see the module's documentation).
    #[default]
    Auto,
    /// At most this many bytes.
    Bytes(u64),
}

impl std::str::FromStr for MaxMemory {
    type Err = String;
    /// `auto`, or a number of bytes with an optional binary suffix
    /// (`K`, `M`, `G`, `T`, optionally followed by `B` or `iB`).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(MaxMemory::Auto);
        }
        let bad = || {
            format!("got {s:?}, expected 'auto' or a number of bytes such as 1073741824, 512M, 4G")
        };
        let digits = t
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(digits);
        let num: f64 = num.parse().map_err(|_| bad())?;
        let unit = unit.trim().to_ascii_uppercase();
        let unit = unit
            .strip_suffix("IB")
            .or_else(|| unit.strip_suffix('B'))
            .unwrap_or(&unit);
        let scale: f64 = match unit {
            "" => 1.0,
            "K" => 1024.0,
            "M" => 1024.0 * 1024.0,
            "G" => 1024.0 * 1024.0 * 1024.0,
            "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let bytes = num * scale;
        if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
            return Err(bad());
        }
        Ok(MaxMemory::Bytes(bytes as u64))
    }
}

impl fmt::Display for MaxMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxMemory::Auto => f.write_str("auto"),
            MaxMemory::Bytes(b) => write!(f, "{b}"),
        }
    }
}

/// Bytes as people read them (`2.2 GiB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A number of bytes that may overflow u64 (`None`: more than 16 EiB).
pub type Bytes = Option<u64>;

/// `count × size` bytes, `None` on overflow.
pub fn bytes_of(dims: &[usize], size: usize) -> Bytes {
    dims.iter()
        .try_fold(size as u64, |a, &d| a.checked_mul(d as u64))
}

/// Sum of byte counts, `None` if any is `None` or the sum overflows.
pub fn sum(parts: impl IntoIterator<Item = Bytes>) -> Bytes {
    parts
        .into_iter()
        .try_fold(0u64, |a, b| b.and_then(|b| a.checked_add(b)))
}

fn show(b: Bytes) -> String {
    b.map_or_else(|| "more than 16 EiB".to_string(), human)
}

/// How much a call may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes (None: no limit known).
    limit: Option<u64>,
    /// Set by the user (`max_memory`) rather than read from the system.
    explicit: bool,
}

impl Budget {
    /// No limit.
    pub fn unlimited() -> Budget {
        Budget {
            limit: None,
            explicit: false,
        }
    }

    /// The budget `max_memory` stands for, read now.
    pub fn of(max: MaxMemory) -> Budget {
        match max {
            MaxMemory::Bytes(b) => Budget {
                limit: Some(b),
                explicit: true,
            },
            MaxMemory::Auto => Budget {
                limit: system_available(),
                explicit: false,
            },
        }
    }

    /// [`MaxMemory::Auto`]'s budget.
    pub fn auto() -> Budget {
        Budget::of(MaxMemory::Auto)
    }

    /// The limit in bytes (None: none known).
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    fn source(&self) -> &'static str {
        if self.explicit {
            "set by max_memory"
        } else {
            "the memory available to this process"
        }
    }

    /// `Ok` when `needed` fits the budget; otherwise an
    /// [`Error::OutOfMemory`] naming `what` and telling how to proceed
    /// (`hint`).
    pub fn check(&self, what: impl Into<String>, needed: Bytes, hint: &str) -> Result<()> {
        match (needed, self.limit) {
            (Some(_), None) => Ok(()),
            (Some(n), Some(l)) if n <= l => Ok(()),
            _ => Err(Error::OutOfMemory {
                what: what.into(),
                needed: show(needed),
                budget: match self.limit {
                    Some(l) => format!("{} ({})", human(l), self.source()),
                    None => "the address space".into(),
                },
                hint: hint.into(),
            }),
        }
    }
}

/// The hint of a refused allocation.
const REFUSED_HINT: &str = "the system refused the allocation (a process memory limit such as \
     `ulimit -v`, or the overcommit policy); lower the memory the call needs or raise the limit";

/// Reserves `bytes` from the allocator and gives them back, untouched (no
/// page is written, so this costs address space, not memory): an
/// allocation the system would refuse becomes an [`Error::OutOfMemory`]
/// about `what` now rather than an abort later. Amounts below 64 MiB are
/// not probed.
pub fn probe(what: &str, bytes: u64) -> Result<()> {
    if bytes < 64 << 20 {
        return Ok(());
    }
    let refused = || Error::OutOfMemory {
        what: what.to_string(),
        needed: human(bytes),
        budget: "what the system grants".into(),
        hint: REFUSED_HINT.into(),
    };
    let len = usize::try_from(bytes).map_err(|_| refused())?;
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| refused())?;
    drop(v);
    Ok(())
}

/// Makes room for `extra` more elements in `v` with `try_reserve`.
pub fn try_grow<T>(v: &mut Vec<T>, extra: usize, what: &str) -> Result<()> {
    v.try_reserve(extra).map_err(|_| Error::OutOfMemory {
        what: what.to_string(),
        needed: show(bytes_of(
            &[v.len().saturating_add(extra)],
            std::mem::size_of::<T>(),
        )),
        budget: "what the system grants".into(),
        hint: REFUSED_HINT.into(),
    })
}

/// `v.resize(len, value)` with the room made by [`try_grow`]: a buffer
/// sized by data never aborts the process.
pub fn try_resize<T: Clone>(v: &mut Vec<T>, len: usize, value: T, what: &str) -> Result<()> {
    if len > v.len() {
        try_grow(v, len - v.len(), what)?;
    }
    v.resize(len, value);
    Ok(())
}

/// What a call on the estimator is about to do, for [`preflight`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call {
    /// `fit`/`fit_transform` or the first `partial_fit` (with the
    /// initialisation).
    Fit,
    /// A later `partial_fit` (W of the chunk solved afresh).
    PartialFit,
    /// `transform` (W solved with H fixed).
    Transform,
}

/// The hint of an over-budget fit.
const FIT_HINT: &str = "lower n_components, use init='random' (no n_samples×(n_components+10) \
     SVD blocks), fit fewer rows at a time (partial_fit by chunks keeps no W), or raise \
     max_memory (CLI --max-memory) if that much memory is really free";

/// What the preflight decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// W does not fit the budget with the rest: it goes to a mapped file
    /// (only for [`Call::Fit`]).
    pub(crate) spill_w: bool,
    /// The in-RAM randomized SVD blocks of an nndsvd initialisation
    /// (n×(k+10)) do not fit the budget: the initialisation takes the
    /// streamed SVD instead (nothing of n rows in RAM, W written into its
    /// place; [`crate::linalg::streamed_svd`]).
    pub(crate) stream_init: bool,
}

/// Checks, before anything is allocated, that a call on X of `n` rows
/// (this process's rows) and `m` columns with k components of `elem`
/// bytes fits the budget of `params.max_memory`: W (n×k), H with its
/// numerator and denominator (3·k×m), the workspaces of a mini-batch (for
/// CSR X of `nnz` stored values, sized by the values a batch can hold,
/// never by a dense batch×m block), the
/// randomized SVD of an nndsvd initialisation (four n×(k+10) and m×(k+10)
/// blocks, and Xᵀ·X for m ≤ 2048), the buffers of a fresh W solve, and the
/// row blocks of whole passes. Measured against the peak RSS of real fits
/// (10^6 × 20 dense, k = 10): 0.87 GiB estimated for 0.44 GiB with nndsvda,
/// 0.20 GiB for 0.15 GiB with random: on the safe side.
///
/// `distributed`: this process is one rank of a distributed fit; the SVD
/// blocks of an nndsvd initialisation are then not counted here (they are
/// sized by the rows of all ranks, unknown before the preflight exchange:
/// [`dist_init_check`] checks them after it).
///
/// Over the budget, a fit whose W is the excess is planned with W in a
/// memory-mapped file ([`Plan::spill_w`]): what stays in RAM must then fit
/// (the SVD blocks of an nndsvd initialisation, the buffers of fresh
/// restarts and H's statistics do not spill). Then the RAM total is
/// reserved once from the allocator and released ([`probe`]), so an
/// address-space limit refuses the call here, cleanly.
pub(crate) fn preflight(
    params: &crate::params::MiniBatchNmfParams,
    call: Call,
    (n, m): (usize, usize),
    nnz: Option<usize>,
    k: usize,
    elem: usize,
    distributed: bool,
) -> Result<Plan> {
    use crate::params::Init;
    let bs = params.get_batch_size().min(n.max(1));
    let threads = crate::parallel::num_threads().max(1);
    let l = k.saturating_add(10);
    let w = bytes_of(&[n, k], elem);
    let h = bytes_of(&[3, k, m], elem);
    let ws = sum([
        bytes_of(&[threads + 2, 2, k, m], elem),
        batch_bytes(bs, m, nnz, k, elem, threads),
    ]);
    // Row blocks of whole passes: the reader's raw and converted buffers,
    // and the products a pass computes on them.
    // (A block is at most X itself: n·m values, and column indices if CSR.)
    let block = bytes_of(&[n, m], elem + 8).map_or(crate::io::PASS_BYTES as u64, |b| {
        b.min(crate::io::PASS_BYTES as u64)
    });
    let passes = Some(4 * block);
    let svd = !distributed
        && match (call, params.get_init()) {
            (Call::Fit, Init::Nndsvd | Init::Nndsvda | Init::Nndsvdar) => true,
            (Call::Fit, Init::Auto) => k <= n.min(m),
            _ => false,
        };
    let init = if svd {
        sum([
            bytes_of(&[4, n, l], elem),
            bytes_of(&[4, m, l], elem),
            bytes_of(&[4, m.min(2048), m.min(2048)], 8),
            w,
        ])
    } else {
        Some(0)
    };
    let fresh = match call {
        Call::Transform | Call::PartialFit => bytes_of(&[2, n, k], elem),
        Call::Fit if params.get_fresh_restarts() => bytes_of(&[2, n, k], elem),
        Call::Fit => Some(0),
    };
    let extra = match (init, fresh) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    let peak = sum([w, h, ws, passes, extra]);
    let what =
        format!(
        "{} on {n}×{m} with n_components={k} (W: {}, H and its statistics: {}, workspaces: {}{})",
        match call {
            Call::Fit => "fitting",
            Call::PartialFit => "partial_fit",
            Call::Transform => "transform",
        },
        show(w),
        show(h),
        show(ws),
        if svd {
            format!(", the initialisation's randomized SVD blocks: {}", show(init))
        } else {
            String::new()
        }
    );
    let budget = Budget::of(params.get_max_memory());
    let all_in_ram = budget.check(what.clone(), peak, FIT_HINT);
    let Err(refused) = all_in_ram else {
        probe(&what, peak.unwrap_or(u64::MAX))?;
        return Ok(Plan {
            spill_w: false,
            stream_init: false,
        });
    };
    if !matches!(call, Call::Fit) {
        return Err(refused);
    }
    // The streamed SVD (tall X): nothing of n rows in RAM but W.
    let stream_init = svd && crate::linalg::streamed_svd::applies((n, m));
    let extra = if stream_init {
        let init = crate::linalg::streamed_svd::ram_bytes(m, k);
        match (init, fresh) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    } else {
        extra
    };
    if stream_init {
        let peak = sum([w, h, ws, passes, extra]);
        let what = format!("{what}; with the streamed randomized SVD");
        if budget.check(what.clone(), peak, FIT_HINT).is_ok() {
            probe(&what, peak.unwrap_or(u64::MAX))?;
            return Ok(Plan {
                spill_w: false,
                stream_init,
            });
        }
    }
    // W in a mapped file: the rest must fit.
    let rest = sum([h, ws, passes, extra]);
    let what = format!(
        "{what}; with W kept in a memory-mapped file in the temporary folder, what stays in RAM{}",
        if stream_init {
            " (with the streamed randomized SVD of the nndsvd initialisation)"
        } else if svd {
            " (the randomized SVD blocks of the nndsvd initialisation stay in RAM)"
        } else if params.get_fresh_restarts() {
            " (fresh restarts solve W afresh in RAM)"
        } else {
            ""
        }
    );
    let hint = if svd && !stream_init {
        SPILL_SVD_HINT
    } else {
        FIT_HINT
    };
    budget.check(what.clone(), rest, hint)?;
    // A mapped file takes address space as RAM does: under `ulimit -v`,
    // W must fit there too.
    if let Some(room) = rlimit_headroom() {
        let total = sum([w, rest]);
        if total.map_or(true, |t| t > room) {
            return Err(Error::OutOfMemory {
                what: format!("{what}, and W mapped from its file takes address space"),
                needed: show(total),
                budget: format!("{} (the address-space limit, ulimit -v)", human(room)),
                hint: "raise the address-space limit (ulimit -v), lower n_components, or \
                       fit fewer rows at a time (partial_fit by chunks keeps no W)"
                    .into(),
            });
        }
    }
    probe(&what, rest.unwrap_or(u64::MAX))?;
    Ok(Plan {
        spill_w: true,
        stream_init,
    })
}

/// The buffers of a mini-batch of `bs` rows: per-row buffers (4·bs·k) and
/// the batch's X with what is computed at its entries (4 values per entry).
/// Dense X: 4·bs·m. CSR X: a batch holds at most min(bs·m, nnz) stored
/// values (with their column indices, and the cd solver's column index of
/// the batch), and the W·H row blocks of the β ∉ {1, 2} losses are capped
/// at one block of W·H values per thread, plus the cd
/// solver's column lists of the batch (k + 1 values per column). A wide
/// CSR matrix therefore takes large batches without a batch×m charge it
/// never allocates.
fn batch_bytes(
    bs: usize,
    m: usize,
    nnz: Option<usize>,
    k: usize,
    elem: usize,
    threads: usize,
) -> Bytes {
    let rows = bytes_of(&[4, bs, k], elem);
    match nnz {
        None => sum([rows, bytes_of(&[4, bs, m], elem)]),
        Some(nnz) => {
            let stored = bs.saturating_mul(m).min(nnz);
            sum([
                rows,
                bytes_of(&[4, stored], elem + 8),
                bytes_of(
                    &[
                        threads,
                        2,
                        crate::kernels::block_elems().min(bs.saturating_mul(m)),
                    ],
                    elem,
                ),
                bytes_of(&[k + 2, m], elem.max(8)),
            ])
        }
    }
}

/// The hint of a fit refused even with W spilled, because of the
/// initialisation's SVD blocks.
const SPILL_SVD_HINT: &str = "use init='random' (W then lives in a file and \
     nothing in RAM grows with n_samples), lower n_components, or raise max_memory \
     (CLI --max-memory) if that much memory is really free (the streamed SVD, which keeps \
     the initialisation's memory bounded, takes a tall X only: n_samples >= n_features \
     and n_features <= 2048)";

/// The least of the known limits: MemAvailable, the address-space limit's
/// headroom and the cgroup's.
fn system_available() -> Option<u64> {
    [mem_available(), rlimit_headroom(), cgroup_headroom()]
        .into_iter()
        .flatten()
        .min()
}

/// A `Key:   123 kB` line of a /proc file, in bytes.
fn proc_kb(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

fn mem_available() -> Option<u64> {
    proc_kb("/proc/meminfo", "MemAvailable:")
}

fn rlimit_headroom() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut r) } != 0 || r.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let used = proc_kb("/proc/self/status", "VmSize:").unwrap_or(0);
    Some(r.rlim_cur.saturating_sub(used))
}

fn cgroup_headroom() -> Option<u64> {
    let read = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?;
    let cur: u64 = read("memory.current")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_memory_parses_suffixes_and_auto() {
        let p = |s: &str| s.parse::<MaxMemory>();
        assert_eq!(p("auto"), Ok(MaxMemory::Auto));
        assert_eq!(p("1024"), Ok(MaxMemory::Bytes(1024)));
        assert_eq!(p("512M"), Ok(MaxMemory::Bytes(512 << 20)));
        assert_eq!(p("4G"), Ok(MaxMemory::Bytes(4 << 30)));
        assert_eq!(p("4GiB"), Ok(MaxMemory::Bytes(4 << 30)));
        assert_eq!(p("1.5k"), Ok(MaxMemory::Bytes(1536)));
        assert_eq!(p("2T"), Ok(MaxMemory::Bytes(2 << 40)));
        for bad in ["", "x", "-1", "0", "4X", "1e30G", "nan"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let b = MaxMemory::Bytes(123);
        assert_eq!(b.to_string().parse::<MaxMemory>(), Ok(b));
    }

    #[test]
    fn over_budget_is_an_error_that_says_what_and_how_much() {
        let b = Budget::of(MaxMemory::Bytes(1 << 20));
        assert!(b.check("x", Some(1 << 20), "h").is_ok());
        let e = b.check("W (10×10)", Some(2 << 20), "lower k").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("W (10×10)") && msg.contains("2.0 MiB") && msg.contains("lower k"));
        assert!(b.check("x", None, "h").is_err());
        assert!(Budget::unlimited().check("x", None, "h").is_err());
        assert!(Budget::unlimited().check("x", Some(u64::MAX), "h").is_ok());
    }

    #[test]
    fn a_csr_batch_is_counted_by_its_values_not_as_a_dense_block() {
        let (bs, m, k, elem, threads) = (16384, 82875, 20, 8, 2);
        let dense = batch_bytes(bs, m, None, k, elem, threads).unwrap();
        assert!(dense >= 4 * (bs * m * elem) as u64);
        // 2 M stored values: the batch holds at most all of them.
        let csr = batch_bytes(bs, m, Some(2_000_000), k, elem, threads).unwrap();
        assert!(csr >= 4 * 2_000_000 * 16, "{csr}");
        assert!(csr < dense / 100, "{csr} vs {dense}");
        // A tiny wide batch: never more than the dense count's values.
        let few = batch_bytes(2, m, Some(usize::MAX), k, elem, threads).unwrap();
        assert!(few >= 4 * (2 * m) as u64 * 16);
    }

    #[test]
    fn refused_allocations_are_errors() {
        let mut v: Vec<u64> = Vec::new();
        assert!(try_grow(&mut v, usize::MAX / 2, "huge").is_err());
        assert!(probe("huge", u64::MAX / 2).is_err());
        try_grow(&mut v, 6, "small").unwrap();
        assert!(v.capacity() >= 6);
    }
}
