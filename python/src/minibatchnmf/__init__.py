"""minibatchnmf: scikit-learn's MiniBatchNMF computed by a Rust library.

    from minibatchnmf import MiniBatchNMF

``MiniBatchNMF`` has scikit-learn's constructor, methods, fitted attributes,
errors and warnings. ``set_num_threads``/``get_num_threads`` and the
``n_threads`` context manager set the library's thread count.
``model.save(path)`` and ``minibatchnmf.load(path)`` write and read the
library's model files (shared with the command-line tool, R, C and Rust).
``minibatchnmf.mpi.attach(model, comm)`` makes a model one rank of a
data-parallel fit over an mpi4py communicator. ``MiniBatchNMF(missing="nan")``
fits data with missing values, and ``cross_validate_rank(X, range(2, 20))``
chooses n_components by cross-validation on held-out entries.
"""

from ._clib import version as library_version
from ._estimator import MiniBatchNMF
from ._rank import RankCV, cross_validate_rank
from ._threads import get_num_threads, n_threads, set_num_threads
from . import mpi

load = MiniBatchNMF.load

__version__ = "0.1.0"

__all__ = [
    "MiniBatchNMF",
    "load",
    "cross_validate_rank",
    "RankCV",
    "mpi",
    "set_num_threads",
    "get_num_threads",
    "n_threads",
    "library_version",
    "__version__",
]
