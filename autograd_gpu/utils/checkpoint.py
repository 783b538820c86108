"""torch.utils.checkpoint: trade compute for memory by recomputing a segment's forward during backward.

``use_reentrant=False`` (recommended): the forward runs under saved_tensors_hooks that keep only a small
handle for each tensor an op saves; the first unpack in backward reruns the segment (same RNG state) and
serves the recomputed tensors. ``use_reentrant=True``: the segment is one custom Function whose backward
reruns it with grad enabled and backpropagates through the recomputed graph.

Peak memory: a chain of checkpointed segments keeps only segment inputs during forward, and one segment's
intermediates at a time during backward.
"""
from __future__ import annotations

import contextlib
import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.graph import saved_tensors_hooks
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction", "noop_context_fn",
           "detach_variable", "check_backward_validity"]


class CheckpointError(RuntimeError):
    pass


_DEBUG_TIP = """
Tip: To see a more detailed error message, either pass `debug=True` to
`torch.utils.checkpoint.checkpoint(...)` or wrap the code block
with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to
enable checkpoint-debug mode globally.
"""


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs):
    """Detached copies of the tensors in ``inputs`` keeping their requires_grad flags."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x for x in inputs)


def check_backward_validity(inputs) -> None:
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=3)


def _get_rng_state():
    from .. import random
    return random.get_rng_state()


@contextlib.contextmanager
def _rng_as(state):
    """Run the block with the RNG at ``state`` (the forward's), then put the current state back."""
    if state is None:
        yield
        return
    from .. import random
    now = random.get_rng_state()
    random.set_rng_state(state)
    try:
        yield
    finally:
        random.set_rng_state(now)


class CheckpointFunction(Function):
    """use_reentrant=True: forward without a graph; backward recomputes it and backpropagates through it."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.fwd_rng_state = _get_rng_state() if preserve_rng_state else None
        ctx.inputs, ctx.tensor_indices, tensors = [], [], []
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                tensors.append(arg)
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
            else:
                ctx.inputs.append(arg)
        ctx.save_for_backward(*tensors)
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *args):
        from ..autograd.engine import backward
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        detached = detach_variable(tuple(inputs))
        with _rng_as(ctx.fwd_rng_state), enable_grad():
            outputs = ctx.run_function(*detached)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, args) if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(x._grad if isinstance(x, Tensor) else None for x in detached)


def _meta(t):
    return {"shape": t.shape, "dtype": t.dtype, "device": t.device}


class _Frame:
    """One non-reentrant checkpoint call: handles given out at pack time, recomputed tensors at unpack."""

    def __init__(self, fn, args, kwargs, rng_state, recompute_context, check):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.rng_state, self.recompute_context, self.check = rng_state, recompute_context, check
        self.metas = []
        self.recomputed = None

    def pack(self, t):
        self.metas.append(_meta(t) if self.check else None)
        return len(self.metas) - 1

    def unpack(self, idx):
        if self.recomputed is None:
            self.recompute()
        return self.recomputed[idx]

    def recompute(self):
        saved = []

        def pack(t):
            if len(saved) >= len(self.metas):
                raise CheckpointError("torch.utils.checkpoint: trying to save more tensors during "
                                      "recomputation than during the original forward pass.\n" + _DEBUG_TIP)
            saved.append(t.detach())
            return None

        def unpack(_):
            raise RuntimeError("torch.utils.checkpoint: the recomputed graph is not meant to be "
                               "backpropagated")

        with _rng_as(self.rng_state), enable_grad(), saved_tensors_hooks(pack, unpack), \
                self.recompute_context:
            self.fn(*self.args, **self.kwargs)
        if len(saved) != len(self.metas):
            raise CheckpointError("torch.utils.checkpoint: A different number of tensors was saved during "
                                  "the original forward and recomputation.\nNumber of tensors saved during "
                                  f"forward: {len(self.metas)}\nNumber of tensors saved during "
                                  f"recomputation: {len(saved)}.\n"
                                  + _DEBUG_TIP)
        if self.check:
            bad = "".join(f"tensor at position {i}:\nsaved metadata: {m}\nrecomputed metadata: {_meta(t)}\n"
                          for i, (m, t) in enumerate(zip(self.metas, saved)) if m != _meta(t))
            if bad:
                raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors "
                                      f"have different metadata than during the forward pass.\n{bad}.\n"
                                      + _DEBUG_TIP)
        self.recomputed = saved
        self.args = self.kwargs = None  # the inputs live on in the recomputed tensors only if needed there


def checkpoint(function, *args, use_reentrant: bool | None = None, context_fn=noop_context_fn,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True, **kwargs):
    """function(*args, **kwargs) without keeping its intermediates: they are recomputed in backward."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
                      "exception. use_reentrant=False is recommended, but if you need to preserve the "
                      "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
                      "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    frame = _Frame(function, args, kwargs, _get_rng_state() if preserve else None, recompute_context,
                   determinism_check == "default")
    with saved_tensors_hooks(frame.pack, frame.unpack), forward_context:
        return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant: bool | None = None, **kwargs):
    """Run ``functions`` (a list or nn.Sequential) in ``segments`` chunks, all checkpointed but the last."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
                      "passed explicitly. In version 2.9 we will raise an exception if use_reentrant is not "
                      "passed. use_reentrant=False is recommended, but if you need to preserve the current "
                      "default behavior, you can pass use_reentrant=True. Refer to docs for more details on "
                      "the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    if hasattr(functions, "children"):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
