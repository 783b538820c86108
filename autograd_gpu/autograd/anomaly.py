"""Anomaly detection: detect_anomaly / set_detect_anomaly (PyTorch's torch.autograd.anomaly_mode).

While enabled, each node records the Python stack of the forward call that created it; during backward a
node whose backward raises, or (check_nan) returns NaN, gets that forward traceback printed as a warning.
The mode is global, as in PyTorch. Costs nothing when off: Op._record tests one flag (node._record_hooks).
"""
from __future__ import annotations

import os
import traceback
import warnings

from . import node as _node
from .grad_mode import _DecoratorContextManager

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

_check_nan = [True]
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_anomaly_enabled() -> bool:
    return bool(_node._anomaly_enabled[0])


def is_anomaly_check_nan_enabled() -> bool:
    return bool(_node._anomaly_enabled[0]) and _check_nan[0]


def _set(mode: bool, check_nan: bool) -> None:
    from .graph import _update_record_flag
    _node._anomaly_enabled[0] = bool(mode)
    _check_nan[0] = bool(check_nan)
    _update_record_flag()


class detect_anomaly(_DecoratorContextManager):
    """Context manager / decorator enabling anomaly detection for autograd (debugging only: it is slow).

    Nodes record their forward traceback; a backward error (or NaN, with check_nan) prints it.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should "
                      "only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        self.prev, self.prev_check_nan = is_anomaly_enabled(), _check_nan[0]
        _set(True, self.check_nan)

    def __exit__(self, *exc) -> None:
        _set(self.prev, self.prev_check_nan)

    def clone(self):
        return _Clone(self.check_nan)


class _Clone(detect_anomaly):
    def __init__(self, check_nan):  # a decorated function's per-call copy: no second warning
        self.check_nan = check_nan


class set_detect_anomaly(_DecoratorContextManager):
    """Turn anomaly detection on or off at once; used with ``with``, the change is undone on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = _check_nan[0]
        self.mode, self.check_nan = mode, check_nan
        _set(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _set(self.prev, self.prev_check_nan)

    def clone(self):
        return set_detect_anomaly(self.mode, self.check_nan)


def record_trace(node) -> None:
    """Store the forward call stack on ``node`` (frames inside autograd_gpu's op machinery dropped)."""
    stack = traceback.extract_stack()
    end = len(stack)
    while end > 1 and stack[end - 1].filename.startswith(_PKG):
        end -= 1
    node._anomaly_trace = stack[:end]


def print_stack(node) -> None:
    """Warn with the forward traceback of ``node`` (PyTorch's AnomalyMetadata::print_stack)."""
    trace = node._anomaly_trace
    if trace is None:
        warnings.warn("Error detected in " + node.name() + ". No forward pass information available. Enable "
                      "detect anomaly during forward pass for more information.", stacklevel=3)
        return
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                  + "".join(traceback.format_list(trace)), stacklevel=3)


def check_nan(node, grads) -> None:
    """Raise PyTorch's error when ``node``'s backward returned NaN (called by the engine in anomaly mode)."""
    if not _check_nan[0]:
        return
    for i, g in enumerate(grads):
        if g is None or g._data.dtype.kind not in "fc":
            continue
        if bool(g._device.xp.isnan(g._data).any()):
            print_stack(node)
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
