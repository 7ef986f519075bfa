"""Write foldoc1000.mtx.gz and foldoc1000_vocab.txt from the repository's tests/data.

    python make_foldoc.py [TESTS_DATA_DIR]   (default: ../../../../tests/data)

The same FOLDOC TF-IDF slice (1000 definitions x 8958 terms) as tests/data
(see its README for provenance and licence: GNU FDL), as MatrixMarket, which
R reads with Matrix::readMM. Needs numpy and scipy.
"""

import gzip
import os
import shutil
import sys

import numpy as np
import scipy.io
import scipy.sparse as sp

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "..", "tests", "data")
parts = {n: np.load(os.path.join(src, f"foldoc1000_{n}.npy")) for n in ("data", "indices", "indptr")}
vocab = open(os.path.join(src, "foldoc1000_vocab.txt"), encoding="utf-8").read().splitlines()
x = sp.csr_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=(len(parts["indptr"]) - 1, len(vocab)))
tmp = os.path.join(here, "foldoc1000.mtx")
scipy.io.mmwrite(tmp, x.tocoo(), comment="FOLDOC TF-IDF slice, 1000 definitions x 8958 terms (GNU FDL); see tests/data/README.md", precision=17)
with open(tmp, "rb") as f, gzip.GzipFile(os.path.join(here, "foldoc1000.mtx.gz"), "wb", mtime=0) as g:
    shutil.copyfileobj(f, g)
os.remove(tmp)
shutil.copy(os.path.join(src, "foldoc1000_vocab.txt"), os.path.join(here, "foldoc1000_vocab.txt"))
print(x.shape, x.nnz)
