"""Data-parallel fits over MPI (mpi4py), through the library's all-reduce hook.

    from mpi4py import MPI
    import minibatchnmf
    from minibatchnmf import MiniBatchNMF

    comm = MPI.COMM_WORLD
    X_mine = ...                     # this rank's rows; rank order = row order of X
    model = MiniBatchNMF(n_components=10, random_state=0)
    minibatchnmf.mpi.attach(model, comm)
    W_mine = model.fit_transform(X_mine)   # collective: every rank calls it
    model.components_                      # the same H on every rank

Every rank passes its own shard of rows; the shards concatenated in rank
order are the X of the equivalent single-process fit, whose results the
distributed fit reproduces (to rounding: the sums are associated
differently). ``fit``, ``fit_transform``, ``partial_fit`` and ``transform``
become collective calls: every rank makes them, in the same order, with the
same parameters. Give an int ``random_state`` (or seed ``np.random`` the
same on every rank when it is None). Every rank needs at least one row.

If a rank's input is rejected (negative values, wrong number of columns,
…), every rank fails, without hanging: that rank with its own exception, the
others with ``RuntimeError``.

The hook is ``MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_DOUBLE|MPI_FLOAT,
MPI_SUM, comm)``, called by the library from one thread at a time (mpi4py
initialises MPI with MPI_THREAD_MULTIPLE by default; MPI_THREAD_SERIALIZED
is enough). Pickling or cloning a model drops the attachment.
"""

import ctypes as C
import sys

import numpy as np

from . import _clib

__all__ = ["attach", "detach", "AllreduceHook"]


class AllreduceHook:
    """The library's all-reduce hook over an mpi4py communicator."""

    def __init__(self, comm):
        from mpi4py import MPI

        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.error = None
        self._mpi = MPI

        def reduce(buf, count, dtype, ctx):
            try:
                ctype = C.c_double if dtype == _clib.DTYPE_F64 else C.c_float
                if count:
                    arr = np.ctypeslib.as_array((ctype * count).from_address(buf))
                else:
                    arr = np.empty(0, dtype=np.float64 if dtype == _clib.DTYPE_F64 else np.float32)
                comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM)
                return 0
            except BaseException:  # never let an exception cross into the library
                self.error = sys.exc_info()[1]
                return 1

        # Kept alive as long as the hook: the library holds the pointer.
        self.callback = _clib.ALLREDUCE_FN(reduce)

    def all_ok(self, ok):
        """Whether ``ok`` holds on every rank (a collective call)."""
        return bool(self.comm.allreduce(1 if ok else 0, op=self._mpi.MIN))


def attach(model, comm):
    """Make ``model`` (a MiniBatchNMF) one rank of a data-parallel fit over
    the mpi4py communicator ``comm``; None makes it a single process again.
    Returns the model."""
    if comm is not None and not _clib.HAS_ALLREDUCE:
        raise NotImplementedError("this build of libminibatchnmf has no nmf_set_allreduce")
    hook = None if comm is None else AllreduceHook(comm)
    model._allreduce = hook
    handle = getattr(model, "_handle", None)
    if handle is not None:
        handle.set_allreduce(hook)
    return model


def detach(model):
    """The model as a single process again."""
    return attach(model, None)
