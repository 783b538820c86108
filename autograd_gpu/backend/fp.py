"""Silencing NumPy's floating-point warnings cheaply.

PyTorch never warns when arithmetic meets inf or nan (log(0), x / 0, exp overflow), so ops compute under
``np.errstate(all="ignore")``. That context manager rebuilds NumPy's error-state object on every entry
(~10 µs of Python, more than the ufunc on a small array); ``quiet()`` sets the same prebuilt state through
the context variable NumPy reads, and falls back to ``np.errstate`` where that variable is not available.
"""
from __future__ import annotations

import functools

import numpy as np

try:  # NumPy >= 2: the error state is a ContextVar holding an opaque "extobj"
    from numpy._core._ufunc_config import _extobj_contextvar as _var

    with np.errstate(all="ignore"):
        _IGNORE = _var.get()
except (ImportError, AttributeError, LookupError):  # pragma: no cover - other NumPy layouts
    _var = None


class _Quiet:
    __slots__ = ("_token",)

    def __enter__(self):
        self._token = _var.set(_IGNORE)

    def __exit__(self, *exc):
        _var.reset(self._token)


def quiet():
    """A context manager under which NumPy ignores divide / overflow / underflow / invalid."""
    return _Quiet() if _var is not None else np.errstate(all="ignore")


if _var is not None:
    # quiet() without a context-manager object, for the backward engine's loop: token = quiet_enter(), then
    # quiet_exit(token) (C calls: no Python frame)
    quiet_enter = functools.partial(_var.set, _IGNORE)
    quiet_exit = _var.reset
else:  # pragma: no cover - other NumPy layouts
    def quiet_enter():
        q = np.errstate(all="ignore")
        q.__enter__()
        return q

    def quiet_exit(token):
        token.__exit__(None, None, None)
