"""Write the small real data sets vendored in tests/data/ (see README.md there).

    python tests/data/make_data.py --foldoc-npz PATH --foldoc-vocab PATH

* digits.npy: scikit-learn's bundled 8x8 digits (load_digits(), 1797 x 64),
  pixel counts 0..16 stored as uint8 (exact).
* foldoc1000_{indptr,indices,data}.npy + foldoc1000_vocab.txt: 1000 rows of
  a FOLDOC TF-IDF matrix (every 12th row from the first, so the slice spans
  the whole alphabet of headwords; CSR, rows l2-normalised over the full
  vocabulary), restricted to the columns those rows use, in column order.
  indptr/indices int32, data float64 (C order, little endian).
"""

import argparse
import os

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits

OUT = os.path.dirname(os.path.abspath(__file__))
N_ROWS = 1000
STRIDE = 12


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--foldoc-npz", required=True, help="FOLDOC TF-IDF, scipy save_npz CSR")
    ap.add_argument("--foldoc-vocab", required=True, help="its terms, one per line, column order")
    args = ap.parse_args()

    digits = load_digits().data
    assert np.array_equal(digits, np.round(digits)) and digits.max() <= 255
    np.save(os.path.join(OUT, "digits.npy"), digits.astype(np.uint8))

    x = sp.load_npz(args.foldoc_npz).tocsr()
    with open(args.foldoc_vocab, encoding="utf-8") as f:
        vocab = f.read().splitlines()
    assert len(vocab) == x.shape[1]
    s = x[::STRIDE][:N_ROWS]
    cols = np.unique(s.indices)
    s = s[:, cols].tocsr()
    s.sort_indices()
    np.save(os.path.join(OUT, "foldoc1000_indptr.npy"), s.indptr.astype(np.int32))
    np.save(os.path.join(OUT, "foldoc1000_indices.npy"), s.indices.astype(np.int32))
    np.save(os.path.join(OUT, "foldoc1000_data.npy"), s.data.astype(np.float64))
    with open(os.path.join(OUT, "foldoc1000_vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab[c] for c in cols) + "\n")
    print("digits", digits.shape, "foldoc slice", s.shape, s.nnz, "non-zeros")


if __name__ == "__main__":
    main()
