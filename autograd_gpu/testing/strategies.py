"""Hypothesis strategies over the op registry: perturbed shapes, memory layouts and dtypes for property tests.

A registry row is *perturbable* through its samples whose inputs are all random float tensors (positional
shape tuples) plus fixed non-array arguments (scalars, dims, strings, ``Arg`` tuples). What may change is
computed from the row itself, never listed by hand:

- every perturbable sample: dtype (float32, float64, float16 where the op accepts it) and the layout of each
  input (contiguous, transposed view, strided view into a bigger buffer);
- elementwise rows (a probe on the NumPy reference: each output element depends only on the same input
  element): new shapes built from the sample's broadcast shape -- dims prepended, resized, emptied (size 0),
  0-d when a registered sample is 0-d -- and, for rows whose samples broadcast, dims of single inputs replaced
  by 1 or dropped from the front;
- other rows: the sample's sizes relabelled consistently (every 3 becomes, say, 2 in every input, so
  ``(3, 4) @ (4, 5)`` stays valid), kept only where both the reference and the op accept the result and
  agree on the output shapes; otherwise the registered shapes.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from hypothesis import strategies as st

from .registry import Arg, OpInfo, Sample

MAX_NUMEL = 48          # per perturbed broadcast shape: keeps gradchecks cheap on the emulated device
# float16: 1e-3 relative plus 1e-3 of max(1, |expected|), PyTorch's usual float16 override, on the elements
# where the reference is well conditioned (tests/test_properties._spread16). Measured on the same cases, 150
# per row (torch 2.13 CPU): every row's PyTorch kernel passes. torch.testing's bare float16 defaults
# (atol 1e-5) fail PyTorch's own batch_norm, log_softmax, logsumexp, mse_loss, bce_with_logits.
FLOAT16_RTOL, FLOAT16_ATOL = 1e-3, 1e-3
LAYOUTS = ("strided", "transposed", "contiguous")   # tests/test_ops.py covers contiguous inputs


def is_shape(a) -> bool:
    return isinstance(a, tuple) and all(isinstance(d, int) and not isinstance(d, bool) for d in a)


def _fixed_ok(a) -> bool:
    """A fixed argument with no array inside (index arrays, masks, targets are tied to the input shapes)."""
    if isinstance(a, Arg):
        return not a.grad and _fixed_ok(a.value)
    if isinstance(a, tuple):
        return all(map(_fixed_ok, a))
    return not isinstance(a, (np.ndarray, list))


def perturbable(sample: Sample) -> bool:
    if not any(is_shape(a) for a in sample.args):
        return False
    args_ok = all(is_shape(a) or _fixed_ok(a) for a in sample.args)
    return args_ok and all(map(_fixed_ok, sample.kwargs.values()))


def _unwrap(a):
    return a.value if isinstance(a, Arg) else a


def call_ref(info: OpInfo, sample: Sample, shapes, arrays, scalars=None):
    """The NumPy reference on ``arrays`` (float64) standing for the sample's shape arguments; ``scalars``
    (a NumPy float dtype) rounds the sample's Python float arguments to it first."""
    args = _fill(sample.args, arrays, scalars)
    return info.ref(*args, **{k: _round(_unwrap(v), scalars) for k, v in sample.kwargs.items()})


def _round(v, dtype):
    if dtype is None or not isinstance(v, float):
        return v
    return float(np.asarray(v, dtype=dtype))


def _fill(args, values, scalars=None):
    it = iter(values)
    return [next(it) if is_shape(a) else _round(_unwrap(a), scalars) for a in args]


def _outputs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _shape_of(x):
    return tuple(np.shape(x))


def _random_inputs(info, shapes, rng):
    lo, hi = info.domain
    return [rng.uniform(lo, hi, s) for s in shapes]


# --- classification --------------------------------------------------------------------------------------

def _elementwise_sample(info: OpInfo, sample: Sample) -> bool | None:
    """Probe: with every input at the broadcast shape B, redrawing input k's element p changes at most output
    element p, and the output has shape B. None when the sample cannot tell (0-d or single element)."""
    shapes = [a for a in sample.args if is_shape(a)]
    try:
        full = np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    if math.prod(full) < 2:
        return None
    rng = np.random.default_rng(0)
    xs = _random_inputs(info, [full] * len(shapes), rng)
    try:
        with np.errstate(all="ignore"):
            base = call_ref(info, sample, shapes, xs)
            if not isinstance(base, np.ndarray) or base.shape != full:
                return False
            b = _shape_of(call_ref(info, sample, shapes, _random_inputs(info, shapes, rng)))
            if b != full:
                return False
            lo, hi = info.domain
            for k in range(len(xs)):
                for p in range(math.prod(full)):
                    ys = [x.copy() for x in xs]
                    ys[k].flat[p] = rng.uniform(lo, hi)
                    out = call_ref(info, sample, shapes, ys)
                    changed = np.flatnonzero(~((out == base) | (np.isnan(out) & np.isnan(base))))
                    if changed.size and not (changed.size == 1 and changed[0] == p):
                        return False
    except Exception:  # noqa: BLE001 -- a reference that rejects full shapes is not elementwise
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the property tests may vary for one registry row."""
    info: OpInfo
    samples: tuple          # perturbable samples
    elementwise: bool
    broadcasts: bool        # a registered sample broadcasts inputs of different shapes
    zero_d: bool            # a registered sample has a 0-d input
    float16: bool           # the op accepts float16 inputs (probed on the first sample, cpu)

    @property
    def name(self):
        return self.info.name


def _probe_float16(info: OpInfo, sample: Sample) -> bool:
    import autograd_gpu as ag
    shapes = [a for a in sample.args if is_shape(a)]
    xs = [ag.tensor(np.full(s, 0.5 * sum(info.domain) or 0.25), dtype=ag.float16) for s in shapes]
    try:
        with np.errstate(all="ignore"):
            info.fn(*_fill(sample.args, xs), **{k: _unwrap(v) for k, v in sample.kwargs.items()})
    except Exception:  # noqa: BLE001 -- any refusal: float16 is not offered, float32/64 are still tested
        return False
    return True


def make_plan(info: OpInfo) -> tuple[Plan | None, str]:
    """(plan, "") for a perturbable row, else (None, why the generator skips it)."""
    if info.skip_reason:
        return None, f"row skipped: {info.skip_reason}"
    samples = tuple(s for s in info.samples if perturbable(s))
    if not samples:
        return None, "no sample made only of random float inputs and fixed non-array arguments"
    if info.ref is None and not info.grad:
        return None, "no NumPy reference and not differentiable"
    probes = [_elementwise_sample(info, s) for s in samples] if info.ref is not None else [False]
    elementwise = any(p is True for p in probes) and all(p is not False for p in probes)
    shapes = [[a for a in s.args if is_shape(a)] for s in samples]
    broadcasts = elementwise and any(len(set(ss)) > 1 for ss in shapes)
    zero_d = any(() in ss for ss in shapes)
    return Plan(info, samples, elementwise, broadcasts, zero_d, _probe_float16(info, samples[0])), ""


@functools.cache
def plans() -> tuple[list[Plan], dict[str, str]]:
    """Plans for every perturbable registry row, and {row name: reason} for the rows the generator skips."""
    from .registry import all_ops
    out, skipped = [], {}
    for info in all_ops():
        p, why = make_plan(info)
        if p is None:
            skipped[info.name] = why
        else:
            out.append(p)
    return out, skipped


# --- shapes ----------------------------------------------------------------------------------------------

def _shrink(shape, limit=MAX_NUMEL):
    shape = list(shape)
    while math.prod(shape) > limit:
        i = max(range(len(shape)), key=lambda j: shape[j])
        shape[i] = max(1, shape[i] // 2)
    return shape


def _flag(draw, odds: int) -> bool:
    """True about once in ``odds`` draws; False is the simple value hypothesis starts from."""
    return draw(st.integers(0, odds - 1)) == odds - 1


@st.composite
def elementwise_shapes(draw, plan: Plan, sample: Sample):
    """New input shapes for an elementwise sample: prepend / resize / empty dims of the broadcast shape,
    0-d where the row allows it, per-input size-1 dims and dropped leading dims where the row broadcasts."""
    orig = [a for a in sample.args if is_shape(a)]
    base = list(np.broadcast_shapes(*orig))
    kind = draw(st.sampled_from(("resized", "resized", "empty") + (("0d",) if plan.zero_d else ())))
    if kind == "0d":
        full, ndims = [], [0] * len(orig)
    else:
        new = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
        full = _shrink(new + [draw(st.integers(1, 4)) if draw(st.booleans()) else d for d in base])
        if kind == "empty":
            full[draw(st.integers(0, len(full) - 1))] = 0
        ndims = [len(s) + len(new) for s in orig]
    how = f"{kind}, broadcast shape {tuple(full)}"
    if not plan.broadcasts:
        return [tuple(full)] * len(orig), how
    shapes = []
    for nd in ndims:
        if _flag(draw, 4):
            nd = draw(st.integers(0, nd))       # fewer leading dims: broadcasting fills them
        s = full[len(full) - nd:] if nd else []
        shapes.append(tuple(1 if _flag(draw, 3) else d for d in s))
    return shapes, how


def _relabel_valid(plan: Plan, sample: Sample, shapes) -> bool:
    """Both the reference and the op (cpu, float64) accept ``shapes`` and agree on the output shapes."""
    import autograd_gpu as ag
    rng = np.random.default_rng(0)
    xs = _random_inputs(plan.info, shapes, rng)
    try:
        with np.errstate(all="ignore"):
            got = _outputs(plan.info.fn(*_fill(sample.args, [ag.tensor(x) for x in xs]),
                                        **{k: _unwrap(v) for k, v in sample.kwargs.items()}))
            if plan.info.ref is None:
                return True
            exp = _outputs(call_ref(plan.info, sample, shapes, xs))
    except Exception:  # noqa: BLE001 -- either side refusing the shapes means: not a valid perturbation
        return False
    return len(got) == len(exp) and all(tuple(g.shape) == _shape_of(e) for g, e in zip(got, exp))


@functools.lru_cache(maxsize=4096)
def _relabel_cached(plan_name, sample_index, shapes):
    plan = next(p for p in plans()[0] if p.name == plan_name)
    return _relabel_valid(plan, plan.samples[sample_index], [tuple(s) for s in shapes])


@st.composite
def relabelled_shapes(draw, plan: Plan, sample_index: int):
    """The sample's sizes mapped through one random map (equal sizes stay equal), when the op accepts it."""
    sample = plan.samples[sample_index]
    orig = [a for a in sample.args if is_shape(a)]
    if _flag(draw, 4):
        return orig, "registered shapes"
    sizes = sorted({d for s in orig for d in s})
    mapping = {d: draw(st.integers(1, 5)) for d in sizes}
    shapes = [tuple(_shrink([mapping[d] for d in s])) for s in orig]
    if shapes == orig or not _relabel_cached(plan.name, sample_index, tuple(shapes)):
        return orig, "registered shapes"
    return shapes, f"sizes relabelled {mapping}"


@dataclasses.dataclass
class Case:
    sample: Sample
    shapes: list            # one per shape argument of the sample, in order
    layouts: list           # one of LAYOUTS per shape argument
    seed: int
    how: str                # a readable account of the perturbation

    def __repr__(self):
        return (f"Case({self.sample.name or self.sample.args}, shapes={self.shapes}, "
                f"layouts={self.layouts}, seed={self.seed}, {self.how})")


@st.composite
def cases(draw, plan: Plan):
    i = draw(st.integers(0, len(plan.samples) - 1))
    sample = plan.samples[i]
    if plan.elementwise:
        shapes, how = draw(elementwise_shapes(plan, sample))
    else:
        shapes, how = draw(relabelled_shapes(plan, i))
    layouts = [draw(st.sampled_from(LAYOUTS)) if len(s) and math.prod(s) > 1 else "contiguous"
               for s in shapes]
    return Case(sample, list(shapes), layouts, draw(st.integers(0, 2 ** 32 - 1)), how)


# --- building inputs -------------------------------------------------------------------------------------

def laid_out(values: np.ndarray, layout: str, device, dtype, requires_grad: bool, rng):
    """A leaf tensor equal to ``values`` whose storage is a transposed or strided view of a bigger buffer."""
    import autograd_gpu as ag
    from .. import no_grad
    dt = getattr(ag, dtype)
    if layout == "transposed" and values.ndim < 2:
        layout = "strided"
    if layout == "transposed":
        buf = ag.tensor(np.ascontiguousarray(values.swapaxes(0, -1)), dtype=dt, device=device)
        with no_grad():
            t = buf.transpose(0, -1)
    elif layout == "strided":
        d = int(np.argmax(values.shape))
        big_shape = list(values.shape)
        big_shape[d] = 2 * values.shape[d] + 1
        big = rng.uniform(-9, 9, big_shape)        # junk between the elements: a kernel must skip it
        pick = (slice(None),) * d + (slice(1, None, 2),)
        big[pick] = values
        with no_grad():
            t = ag.tensor(big, dtype=dt, device=device)[pick]
    else:
        t = ag.tensor(values, dtype=dt, device=device)
    return t.requires_grad_(requires_grad)


def build(plan: Plan, case: Case, device, dtype: str, requires_grad: bool):
    """(args, kwargs) of tensors for ``plan.info.fn`` and the float64 arrays (the inputs' exact values after
    rounding to ``dtype``) for the reference."""
    rng = np.random.default_rng(case.seed)
    lo, hi = plan.info.domain
    tensors, arrays = [], []
    for shape, layout in zip(case.shapes, case.layouts):
        v = rng.uniform(lo, hi, shape).astype(dtype).astype(np.float64)
        arrays.append(v)
        tensors.append(laid_out(v, layout, device, dtype, requires_grad, rng))
    args = _fill(case.sample.args, tensors)
    kwargs = {k: _unwrap(v) for k, v in case.sample.kwargs.items()}
    return args, kwargs, tensors, arrays


if __name__ == "__main__":  # python -m autograd_gpu.testing.strategies: what the property tests vary
    _plans, _skipped = plans()
    for _p in _plans:
        kind = "elementwise" if _p.elementwise else "relabel"
        print(f"{_p.name:48s} {kind:11s} broadcasts={_p.broadcasts:d} "
              f"0d={_p.zero_d:d} float16={_p.float16:d} samples={len(_p.samples)}/{len(_p.info.samples)}")
    for _name, _why in _skipped.items():
        print(f"skipped {_name}: {_why}")
