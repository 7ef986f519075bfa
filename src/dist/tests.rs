use super::*;

fn shard(offset: usize, n_local: usize, n_total: usize) -> Shard {
    let mut s = Shard::local((n_total, 2), 0.0);
    s.offset = offset;
    s.n_local = n_local;
    s
}

#[test]
fn a_global_batch_maps_to_the_shards_intersection() {
    // Shard holds global rows [10, 25).
    let s = shard(10, 15, 40);
    assert_eq!(s.local_range(0, 8), (0, 0)); // before the shard: empty
    assert_eq!(s.local_range(8, 16), (0, 6));
    assert_eq!(s.local_range(12, 20), (2, 10));
    assert_eq!(s.local_range(24, 32), (14, 15));
    assert_eq!(s.local_range(32, 40), (15, 15)); // after: empty
    let empty = shard(10, 0, 40);
    assert_eq!(empty.local_range(0, 40), (0, 0));
}

/// A reducer that doubles (two identical workers), counting its calls.
#[derive(Debug, Default)]
struct Twice(std::sync::atomic::AtomicUsize);

impl Reducer for Twice {
    fn rank(&self) -> usize {
        0
    }
    fn n_ranks(&self) -> usize {
        1
    }
    fn sum_f64(&self, buf: &mut [f64]) -> std::result::Result<(), String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        buf.iter_mut().for_each(|v| *v *= 2.0);
        Ok(())
    }
    fn sum_f32(&self, buf: &mut [f32]) -> std::result::Result<(), String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        buf.iter_mut().for_each(|v| *v *= 2.0);
        Ok(())
    }
}

#[test]
fn scalars_travel_with_f64_values_in_one_call_and_stay_f64_for_f32() {
    let r = Twice::default();
    let comm = Comm::new(Some(&r));
    let mut buf = vec![1.0f64, 2.0, 0.0];
    let mut sc = [0.25];
    comm.sum_with_scalars(&mut buf, 2, &mut sc).unwrap();
    assert_eq!((&buf[..2], sc[0]), (&[2.0, 4.0][..], 0.5));
    assert_eq!(r.0.load(std::sync::atomic::Ordering::Relaxed), 1);
    let mut buf32 = vec![1.0f32, 0.0];
    // 1 + 2^-30 is not a float: the scalar must not go through f32.
    let mut sc = [1.0 + 2f64.powi(-30)];
    comm.sum_with_scalars(&mut buf32, 1, &mut sc).unwrap();
    assert_eq!((buf32[0], sc[0]), (2.0, 2.0 + 2f64.powi(-29)));
    assert_eq!(r.0.load(std::sync::atomic::Ordering::Relaxed), 3);
}

#[test]
fn one_process_never_calls_a_reducer() {
    let comm = Comm::single();
    let mut buf = [1.0f64];
    comm.sum_with_scalars(&mut buf, 1, &mut []).unwrap();
    comm.sum_f64(&mut buf).unwrap();
    assert_eq!(buf, [1.0]);
    let s = preflight(comm, (3, 2), Ok(ShardSums::all((3, 2), 6.0)), 0).unwrap();
    assert_eq!((s.offset, s.n_total, s.n_features), (0, 3, 2));
    assert_eq!(s.mean(), 1.0);
}
