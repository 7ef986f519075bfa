"""minibatchnmf: scikit-learn's MiniBatchNMF computed by a Rust library.

    from minibatchnmf import MiniBatchNMF

``MiniBatchNMF`` has scikit-learn's constructor, methods, fitted attributes,
errors and warnings. ``set_num_threads``/``get_num_threads`` and the
``n_threads`` context manager set the library's thread count.
"""

from ._clib import version as library_version
from ._estimator import MiniBatchNMF
from ._threads import get_num_threads, n_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "MiniBatchNMF",
    "set_num_threads",
    "get_num_threads",
    "n_threads",
    "library_version",
    "__version__",
]
