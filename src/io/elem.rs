//! numpy element types (`descr` strings such as `<f4`, `|u1`, `>i8`) and the
//! conversion of their raw bytes to the solver's float type or to indices.

use crate::float::NmfFloat;

/// Numeric kinds a data file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    F32,
    F64,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    Bool,
}

/// A numpy element type: kind and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elem {
    pub(crate) kind: Kind,
    big_endian: bool,
}

impl Elem {
    /// Parses a numpy type descriptor (`'<f8'`, `'|u1'`, `'>i4'`, `'|b1'`).
    pub(crate) fn parse(descr: &str) -> Option<Elem> {
        let (order, code) = match descr.chars().next()? {
            c @ ('<' | '>' | '|' | '=') => (c, &descr[1..]),
            _ => ('=', descr),
        };
        let kind = match code {
            "f4" => Kind::F32,
            "f8" => Kind::F64,
            "u1" => Kind::U8,
            "u2" => Kind::U16,
            "u4" => Kind::U32,
            "u8" => Kind::U64,
            "i1" => Kind::I8,
            "i2" => Kind::I16,
            "i4" => Kind::I32,
            "i8" => Kind::I64,
            "b1" => Kind::Bool,
            _ => return None,
        };
        let big_endian = order == '>' || (order == '=' && cfg!(target_endian = "big"));
        Some(Elem { kind, big_endian })
    }

    /// A native little-endian element of `kind`.
    pub(crate) fn little(kind: Kind) -> Elem {
        Elem {
            kind,
            big_endian: false,
        }
    }

    /// Bytes per element.
    pub(crate) fn size(&self) -> usize {
        match self.kind {
            Kind::U8 | Kind::I8 | Kind::Bool => 1,
            Kind::U16 | Kind::I16 => 2,
            Kind::F32 | Kind::U32 | Kind::I32 => 4,
            Kind::F64 | Kind::U64 | Kind::I64 => 8,
        }
    }

    /// Whether the kind holds integers (valid for indices).
    pub(crate) fn is_integer(&self) -> bool {
        !matches!(self.kind, Kind::F32 | Kind::F64 | Kind::Bool)
    }

    /// Calls `f(i, value)` for each element of `bytes`, as f64 (exact for
    /// every kind but 64-bit integers beyond 2^53, rounded as numpy's
    /// `astype` rounds).
    #[inline]
    fn each(self, bytes: &[u8], mut f: impl FnMut(usize, f64)) {
        macro_rules! conv {
            ($t:ty, $n:expr) => {
                for (i, c) in bytes.chunks_exact($n).enumerate() {
                    let a: [u8; $n] = c.try_into().expect("chunk size");
                    let v = if self.big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    };
                    f(i, v as f64);
                }
            };
        }
        match self.kind {
            Kind::F32 => conv!(f32, 4),
            Kind::F64 => conv!(f64, 8),
            Kind::U8 => conv!(u8, 1),
            Kind::U16 => conv!(u16, 2),
            Kind::U32 => conv!(u32, 4),
            Kind::U64 => conv!(u64, 8),
            Kind::I8 => conv!(i8, 1),
            Kind::I16 => conv!(i16, 2),
            Kind::I32 => conv!(i32, 4),
            Kind::I64 => conv!(i64, 8),
            Kind::Bool => conv!(u8, 1),
        }
    }

    /// Converts `bytes` (a whole number of elements) into `out`, as numpy's
    /// `astype(F)` does: f32 → f32 and every integer kind up to 32 bits are
    /// exact; f64 → f32 rounds to nearest.
    pub(crate) fn to_float<F: NmfFloat>(self, bytes: &[u8], out: &mut [F]) {
        debug_assert_eq!(bytes.len(), out.len() * self.size());
        if self.kind == Kind::F32 && std::mem::size_of::<F>() == 4 {
            // f32 → f32 straight (no detour through f64 rounding concerns:
            // the detour is exact, this is only faster).
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                let a: [u8; 4] = c.try_into().expect("chunk size");
                let v = if self.big_endian {
                    f32::from_be_bytes(a)
                } else {
                    f32::from_le_bytes(a)
                };
                *o = F::from_f64_(v as f64);
            }
            return;
        }
        self.each(bytes, |i, v| out[i] = F::from_f64_(v));
    }

    /// Converts integer `bytes` into indices; a negative value is returned as
    /// the error.
    pub(crate) fn to_index(self, bytes: &[u8], out: &mut [usize]) -> Result<(), f64> {
        let mut bad = None;
        self.each(bytes, |i, v| {
            if v < 0.0 && bad.is_none() {
                bad = Some(v);
            }
            out[i] = v as usize;
        });
        bad.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_and_conversions() {
        let e = Elem::parse("<u2").unwrap();
        assert_eq!((e.kind, e.size()), (Kind::U16, 2));
        let mut out = [0.0f64; 2];
        e.to_float(&[1, 0, 0, 1], &mut out);
        assert_eq!(out, [1.0, 256.0]);
        let be = Elem::parse(">i4").unwrap();
        let mut idx = [0usize; 1];
        be.to_index(&[0, 0, 1, 2], &mut idx).unwrap();
        assert_eq!(idx, [258]);
        assert_eq!(be.to_index(&[255, 255, 255, 255], &mut idx), Err(-1.0));
        let f = Elem::parse("<f8").unwrap();
        let mut o32 = [0.0f32];
        f.to_float(&0.1f64.to_le_bytes(), &mut o32);
        assert_eq!(o32[0], 0.1f32);
        assert!(Elem::parse("<c16").is_none());
        assert!(Elem::parse("<f2").is_none());
    }
}
