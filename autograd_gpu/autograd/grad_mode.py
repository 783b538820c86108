"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode. Thread-local, like PyTorch."""
from __future__ import annotations

import functools
import inspect
import threading


class _GradState(threading.local):
    # class attributes are the defaults every new thread starts with
    enabled = True
    inference = False


state = _GradState()
# How many inference_mode(True) blocks are open in any thread: while 0, Tensor._make skips the thread-local
# read of ``state.inference`` (it runs for every op output).
inference_active = [0]


def is_grad_enabled() -> bool:
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _DecoratorContextManager:
    """A context manager that also decorates functions (and generator functions)."""

    def __call__(self, func):
        if inspect.isclass(func):
            raise RuntimeError(f"{type(self).__name__} cannot decorate a class")
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def gen_wrapper(*args, **kwargs):
                gen = func(*args, **kwargs)
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        with self.clone():
                            request = yield response
                            response = gen.send(request)
                    except StopIteration as e:
                        return e.value
            return gen_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also usable as a bare decorator: ``@no_grad`` as well as ``@no_grad()``."""

    __slots__ = ("prev",)  # (a slot, not a dict entry: ``with no_grad():`` runs once per optimizer step)

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return _new(cls)  # (object.__new__ itself: super() builds a proxy object per call)
        return cls()(orig_func)


_new = object.__new__


class no_grad(_NoParamDecoratorContextManager):
    """Disable gradient tracking inside the block (or decorated function)."""

    __slots__ = ()

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, exc_type, exc, tb):
        state.enabled = self.prev


class enable_grad(_NoParamDecoratorContextManager):
    """Enable gradient tracking inside the block, e.g. within no_grad."""

    __slots__ = ()

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True

    def __exit__(self, exc_type, exc, tb):
        state.enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode to ``mode``; takes effect at once (as a function) and is undone on block exit."""

    def __init__(self, mode: bool):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __call__(self, func):
        # as a decorator the mode applies only inside calls: undo the switch __init__ made
        state.enabled = self.prev
        return super().__call__(func)

    def __enter__(self):
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self.prev

    def clone(self):
        return type(self)(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like no_grad, and tensors made inside are inference tensors (never tracked).
    ``inference_mode(False)`` turns inference mode off and grad mode on (PyTorch's c10::InferenceMode)."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare @inference_mode

    def __init__(self, mode: bool = True):
        self.mode = mode

    def __enter__(self):
        self.prev = (state.enabled, state.inference)
        state.enabled, state.inference = not self.mode, bool(self.mode)
        if self.mode:
            inference_active[0] += 1

    def __exit__(self, *exc):
        state.enabled, state.inference = self.prev
        if self.mode:
            inference_active[0] -= 1

    def clone(self):
        return type(self)(self.mode)
