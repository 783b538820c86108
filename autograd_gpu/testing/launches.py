"""count_launches(): the kernels autograd_gpu's own kernel factory launches inside a ``with`` block.

Counts every launch of an elementwise, reduction or raw kernel declared through ``backend.kernels``, on a
real GPU and on the emulated device alike, by kernel name. What CuPy launches for its own array operations
(cuBLAS matmul, ``sum``, ``astype`` copies, fills) is not seen here: bench/gpu.py counts every kernel on a
real GPU with a profiler. Used by the tests ("one launch per optimizer step") and by bench/ on the emulated
device; it patches the factory's classes for the duration of the block, so it is not thread-safe.
"""
from __future__ import annotations

import collections
import contextlib

from ..backend import kernels as K

# the one method every launch of each kind passes through, on both CUDA device kinds
_LAUNCH_POINTS = ((K.ElementwiseKernel, "__call__"), (K.ReductionKernel, "__call__"),
                  (K.RawFunction, "__call__"))


class LaunchCount(collections.Counter):
    """kernel name -> launches; ``total`` is their sum."""

    @property
    def total(self) -> int:
        return sum(self.values())


@contextlib.contextmanager
def count_launches():
    """``with count_launches() as n: ...`` then ``n.total`` and ``n['sgd_step<float>']``."""
    counts = LaunchCount()
    saved = [(cls, name, cls.__dict__[name]) for cls, name in _LAUNCH_POINTS]

    def counting(original):
        def launch(self, *args, **kwargs):
            counts[self.name] += 1
            return original(self, *args, **kwargs)
        return launch

    for cls, name, original in saved:
        setattr(cls, name, counting(original))
    try:
        yield counts
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)
