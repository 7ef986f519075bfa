//! A numpy `RandomState` instance as `random_state`, through the C ABI: its
//! MT19937 state (`RandomState.get_state(legacy=True)`: 624 key words, the
//! position, and the cached Gaussian) in, and the advanced state out.
//!
//! As in scikit-learn, where the estimator draws from the instance it was
//! given, the state is the generator the next initialisation draws from: a
//! fit (or a first partial_fit) that initialises W and H moves it on to where
//! numpy's instance would be after the same draws, and a second fit
//! continues from there. `nmf_get_random_state_mt19937` reads it back, so a
//! binding can advance the caller's instance (`set_state`). `init = custom`
//! draws nothing and leaves it unchanged; a failed call leaves it unchanged.

use super::handle::{check_ptr, model_ref, slice, NmfModel};
use super::status::{guard, Failure, FfiResult, NmfStatus};
use crate::rng::{MtState, RandomState};

/// Number of 32-bit words of an MT19937 key (`key_len` of the two calls below).
pub const NMF_MT19937_KEY_LEN: usize = 624;

/// Set `random_state` to a numpy `RandomState`'s state: `key` (`key_len` =
/// 624 words), `pos` (0..=624), `has_gauss` and `cached_gaussian` are the
/// fields of numpy's `get_state(legacy=True)` tuple. The next fit draws from
/// it as scikit-learn draws from the instance, and moves it on (see
/// `nmf_get_random_state_mt19937`). `NMF_ERR_INVALID_PARAM` (and no change)
/// if `key_len` is not 624, `pos` > 624 or the key is all zeros.
/// `nmf_set_params` replaces the state by the seed or None it is given.
///
/// # Safety
/// `model` is NULL or a live handle; `key` is NULL or points to `key_len`
/// readable words.
#[no_mangle]
pub unsafe extern "C" fn nmf_set_random_state_mt19937(
    model: *mut NmfModel,
    key: *const u32,
    key_len: usize,
    pos: usize,
    has_gauss: bool,
    cached_gaussian: f64,
) -> NmfStatus {
    guard(|| {
        // SAFETY: the pointers are as this function's contract requires.
        let (model, key) = unsafe { (model_ref(model)?, slice(key, key_len, "key")?) };
        let mt = MtState::new(key, pos, has_gauss, cached_gaussian)?;
        let mut state = model.write();
        let p = state.params.clone().random_state(mt);
        state.apply_params(p)
    })
}

/// Read the numpy state that `random_state` is now in: after a fit that
/// initialised W and H, where numpy's instance would be after scikit-learn's
/// draws. Writes 624 words to `key` (`key_len` must be 624), and `pos`,
/// `has_gauss`, `cached_gaussian` (0.0 when `has_gauss` is false).
/// `NMF_ERR_NOT_AVAILABLE` if `random_state` is a seed or None (set with
/// `NmfParams`), not a state.
///
/// # Safety
/// `model` is NULL or a live handle; `key` is NULL or points to `key_len`
/// writable words; `pos`, `has_gauss` and `cached_gaussian` are NULL or point
/// to writable memory for one value each.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_random_state_mt19937(
    model: *const NmfModel,
    key: *mut u32,
    key_len: usize,
    pos: *mut usize,
    has_gauss: *mut bool,
    cached_gaussian: *mut f64,
) -> NmfStatus {
    guard(|| {
        // SAFETY: the pointers are as this function's contract requires.
        let model = unsafe { model_ref(model) }?;
        check_ptr(key as *const u32, "key")?;
        check_ptr(pos as *const usize, "pos")?;
        check_ptr(has_gauss as *const bool, "has_gauss")?;
        check_ptr(cached_gaussian as *const f64, "cached_gaussian")?;
        if key_len != NMF_MT19937_KEY_LEN {
            return Err(Failure::new(
                NmfStatus::NMF_ERR_BUFFER_LENGTH,
                format!("key holds {NMF_MT19937_KEY_LEN} words, key_len is {key_len}"),
            ));
        }
        let mt = current(&model.read().params.get_random_state().clone())?;
        // SAFETY: every pointer is non-NULL and aligned (checked) and
        // writable for its size (contract; key for key_len == 624 words).
        unsafe {
            std::slice::from_raw_parts_mut(key, key_len).copy_from_slice(mt.key());
            pos.write(mt.pos());
            has_gauss.write(mt.has_gauss());
            cached_gaussian.write(mt.cached_gaussian());
        }
        Ok(())
    })
}

fn current(rs: &RandomState) -> FfiResult<MtState> {
    match rs {
        RandomState::State(mt) => Ok((**mt).clone()),
        _ => Err(Failure::new(
            NmfStatus::NMF_ERR_NOT_AVAILABLE,
            "random_state is a seed or None, not a generator state (set one with nmf_set_random_state_mt19937)",
        )),
    }
}

#[cfg(test)]
// The tests pass live handles and buffers of the stated lengths.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use crate::ffi::params::{NmfInit, NmfNComponentsMode};
    use crate::ffi::{
        nmf_create, nmf_fit_dense_f64, nmf_free, nmf_get_params, nmf_params_default, nmf_set_params,
    };
    use crate::rng::NumpyRandomState;
    use std::ptr::{null, null_mut};
    use NmfStatus::*;

    fn model(seed: Option<u32>) -> *mut NmfModel {
        let mut p = nmf_params_default();
        p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
        p.n_components = 2;
        p.init = NmfInit::NMF_INIT_RANDOM;
        p.random_state_is_none = seed.is_none();
        p.random_state = seed.unwrap_or(0);
        p.max_iter = 3;
        let mut m = null_mut();
        assert_eq!(unsafe { nmf_create(&p, &mut m) }, NMF_OK);
        m
    }

    fn get(m: *const NmfModel) -> Result<MtState, NmfStatus> {
        let mut key = vec![0u32; NMF_MT19937_KEY_LEN];
        let (mut pos, mut g, mut c) = (0usize, false, 0.0f64);
        let s = unsafe {
            nmf_get_random_state_mt19937(m, key.as_mut_ptr(), key.len(), &mut pos, &mut g, &mut c)
        };
        if s == NMF_OK {
            Ok(MtState::new(&key, pos, g, c).unwrap())
        } else {
            Err(s)
        }
    }

    fn set(m: *mut NmfModel, st: &MtState) -> NmfStatus {
        unsafe {
            nmf_set_random_state_mt19937(
                m,
                st.key().as_ptr(),
                st.key().len(),
                st.pos(),
                st.has_gauss(),
                st.cached_gaussian(),
            )
        }
    }

    #[test]
    fn set_get_round_trip_and_fit_advances_as_numpy() {
        let m = model(Some(0));
        assert_eq!(
            get(m),
            Err(NMF_ERR_NOT_AVAILABLE),
            "a seed has no state to read"
        );
        let mut rs = NumpyRandomState::new(3);
        rs.standard_normal();
        assert_eq!(set(m, &rs.state()), NMF_OK);
        assert_eq!(get(m).unwrap(), rs.state());
        let mut p = nmf_params_default();
        assert_eq!(unsafe { nmf_get_params(m, &mut p) }, NMF_OK);
        assert!(
            p.random_state_is_none,
            "a state reads as random_state_is_none"
        );
        // 4 x 3 data, k = 2: random init draws 2*3 + 4*2 normals.
        let x = [1.0, 2.0, 0.5, 0.1, 3.0, 1.0, 2.0, 0.2, 0.7, 1.5, 1.1, 0.3];
        assert_eq!(unsafe { nmf_fit_dense_f64(m, x.as_ptr(), 4, 3, 0) }, NMF_OK);
        for _ in 0..14 {
            rs.standard_normal();
        }
        assert_eq!(get(m).unwrap(), rs.state());
        // nmf_set_params replaces the state by the struct's seed/None.
        assert_eq!(unsafe { nmf_set_params(m, &p) }, NMF_OK);
        assert_eq!(get(m), Err(NMF_ERR_NOT_AVAILABLE));
        unsafe { nmf_free(m) };
    }

    #[test]
    fn bad_states_and_null_pointers_are_refused_without_change() {
        let m = model(None);
        let good = NumpyRandomState::new(1).state();
        assert_eq!(set(m, &good), NMF_OK);
        let zeros = [0u32; NMF_MT19937_KEY_LEN];
        let key = good.key();
        let call = |k: *const u32, len: usize, pos: usize| unsafe {
            nmf_set_random_state_mt19937(m, k, len, pos, false, 0.0)
        };
        assert_eq!(call(zeros.as_ptr(), zeros.len(), 0), NMF_ERR_INVALID_PARAM);
        assert_eq!(call(key.as_ptr(), 623, 0), NMF_ERR_INVALID_PARAM);
        assert_eq!(call(key.as_ptr(), key.len(), 625), NMF_ERR_INVALID_PARAM);
        assert_eq!(call(null(), key.len(), 0), NMF_ERR_NULL_POINTER);
        assert_eq!(get(m).unwrap(), good, "failed calls change nothing");
        let st = unsafe {
            nmf_set_random_state_mt19937(null_mut(), key.as_ptr(), key.len(), 0, false, 0.0)
        };
        assert_eq!(st, NMF_ERR_NULL_POINTER);
        let mut out = vec![0u32; 10];
        let (mut pos, mut g, mut c) = (0usize, false, 0.0f64);
        let short = unsafe {
            nmf_get_random_state_mt19937(m, out.as_mut_ptr(), out.len(), &mut pos, &mut g, &mut c)
        };
        assert_eq!(short, NMF_ERR_BUFFER_LENGTH);
        let no_pos = unsafe {
            nmf_get_random_state_mt19937(m, out.as_mut_ptr(), 624, null_mut(), &mut g, &mut c)
        };
        assert_eq!(no_pos, NMF_ERR_NULL_POINTER);
        unsafe { nmf_free(m) };
    }
}
