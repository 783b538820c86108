"""The op registry: one row per public op, driving every op test on every device.

A row says how to call the op (``fn``), what it should compute (``ref``: NumPy, float64), and on what
(``samples``). Tests build the inputs on each device, compare forward against ``ref``, and gradcheck first
and second derivatives in float64 against finite differences.

Sample arguments: a positional tuple of ints is a shape -> a random float tensor (values from ``domain``) that
requires grad; ``Arg(value, grad=False)`` wraps a fixed value (an int index array, a bool mask, a Python
scalar, a tensor that must not require grad; a tuple value such as dims passes as is); keyword arguments
and anything else (ints, floats) are passed as is (keyword Args are converted too).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass
class Arg:
    """A fixed argument: ``value`` (NumPy array, list or scalar) becomes a tensor when it is an array/list."""
    value: Any
    grad: bool = False      # make it a float tensor requiring grad (value gives the data)
    dtype: Any = None       # NumPy dtype for arrays (default: the array's own)


@dataclasses.dataclass
class Sample:
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    name: str = ""
    grad: bool = True       # this sample is differentiable (False e.g. for ties where FD is ill-defined)


def S(*args, name: str = "", grad: bool = True, **kwargs) -> Sample:
    """Sample shorthand: S((3, 4), dim=1)."""
    return Sample(args, kwargs, name, grad)


@dataclasses.dataclass
class OpInfo:
    name: str                                   # public name: "exp", "nn.functional.gelu", "Tensor.__getitem__"
    fn: Callable                                # called as fn(*args, **kwargs) on tensors
    ref: Callable | None                        # NumPy float64 reference, same signature on arrays
    samples: list                               # list[Sample]
    domain: tuple = (-2.0, 2.0)                 # random inputs drawn uniformly from here
    grad: bool = True                           # differentiable at all
    gradgrad: bool = True                       # second derivative checked
    forward_ad: bool = True                     # forward-mode AD checked (tests/test_forward_ad.py)
    atol: float = 1e-5                          # forward tolerance (float64 vs reference)
    rtol: float = 1e-5
    grad_atol: float = 1e-5                     # gradcheck tolerances
    grad_rtol: float = 1e-3
    devices: tuple = ("cpu", "cuda_emulated", "cuda")
    dtypes: tuple = ("float32", "float64")      # forward-checked dtypes
    skip_reason: str = ""                       # non-empty: row is documented but its tests are skipped
    aliases: tuple = ()                         # other public names covered by this row


def all_ops() -> list[OpInfo]:
    """Every registered row from autograd_gpu/testing/op_db/*.py (each module defines OPS)."""
    import importlib
    import pkgutil
    from . import op_db
    rows = []
    for m in sorted(pkgutil.iter_modules(op_db.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{op_db.__name__}.{m.name}")
        rows.extend(getattr(mod, "OPS", []))
    return rows


def make_inputs(sample: Sample, info: OpInfo, device, dtype: str, rng: np.random.Generator, requires_grad=True):
    """Build (args, kwargs) of tensors on ``device`` and the matching float64 NumPy arrays for ``ref``."""
    import autograd_gpu as ag
    lo, hi = info.domain
    t_args, np_args = [], []
    kw_names = list(sample.kwargs)
    n = len(sample.args)
    for pos, a in enumerate(list(sample.args) + [sample.kwargs[k] for k in kw_names]):
        if pos < n and isinstance(a, tuple) and all(isinstance(d, int) for d in a):
            arr = rng.uniform(lo, hi, size=a)
            np_args.append(arr)
            t_args.append(ag.tensor(arr, dtype=getattr(ag, dtype), device=device,
                                    requires_grad=requires_grad and info.grad))
        elif isinstance(a, Arg):
            v = a.value
            if isinstance(v, (np.ndarray, list)):
                arr = np.asarray(v, dtype=a.dtype)
                np_args.append(arr.astype(np.float64) if a.grad else arr)
                if a.grad:
                    t_args.append(ag.tensor(arr, dtype=getattr(ag, dtype), device=device,
                                            requires_grad=requires_grad))
                else:
                    t = ag.tensor(arr, device=device)
                    if arr.dtype.kind == "f":
                        t = t.to(getattr(ag, dtype))
                    t_args.append(t)
            else:
                np_args.append(v)
                t_args.append(v)
        else:
            np_args.append(a)
            t_args.append(a)
    t_kw = dict(zip(kw_names, t_args[n:]))
    np_kw = dict(zip(kw_names, np_args[n:]))
    return tuple(t_args[:n]), tuple(np_args[:n]), t_kw, np_kw
