"""torch.autograd: backward, grad, grad modes, Function, functional API, forward AD, gradcheck, anomaly mode.

Modules that need Tensor at import time (function, functional, forward_ad, graph) load on first use:
this package is imported while autograd_gpu.tensor is still being defined.
"""
import importlib as _importlib

from . import grad_mode  # noqa: F401
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: F401
from .engine import backward, grad  # noqa: F401
from .grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .node import Node  # noqa: F401

__all__ = ["Function", "backward", "grad_mode", "detect_anomaly", "enable_grad", "grad", "gradcheck",
           "gradgradcheck", "inference_mode", "no_grad", "set_detect_anomaly", "set_grad_enabled",
           "set_multithreading_enabled", "functional", "forward_ad", "graph", "function"]

_LAZY = {"Function": ("function", "Function"), "once_differentiable": ("function", "once_differentiable"),
         "function": ("function", None), "functional": ("functional", None),
         "forward_ad": ("forward_ad", None), "graph": ("graph", None)}


def __getattr__(name):
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    mod = _importlib.import_module(f"{__name__}.{where[0]}")
    return mod if where[1] is None else getattr(mod, where[1])


class set_multithreading_enabled(grad_mode._DecoratorContextManager):
    """Accepted for PyTorch compatibility: this engine runs backward on the calling thread."""

    def __init__(self, mode: bool) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        pass

    def clone(self):
        return set_multithreading_enabled(self.mode)
