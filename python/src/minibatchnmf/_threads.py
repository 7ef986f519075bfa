"""The number of threads of the library's parallel work."""

import contextlib
import numbers

from ._clib import check, lib

__all__ = ["set_num_threads", "get_num_threads", "n_threads"]


def set_num_threads(n):
    """Use ``n`` threads for the library's parallel work (0: one per core).

    Applies to every model, for calls that start afterwards. BLAS stays
    single-threaded so the two never oversubscribe the cores.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n_threads must be a non-negative integer, got {n!r}")
    check(lib.nmf_set_num_threads(int(n)))


def get_num_threads():
    """The number of threads the library's parallel work uses."""
    return int(lib.nmf_get_num_threads())


@contextlib.contextmanager
def n_threads(n):
    """Context manager: ``with n_threads(1): model.fit(X)``; restores the previous count."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)
