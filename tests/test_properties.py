"""Property tests over the op registry: random shapes, layouts and dtypes around every registered sample.

For each registry row with perturbable samples (see autograd_gpu/testing/strategies.py for what may vary and
how it is computed) and each test device, hypothesis draws cases -- a sample, new shapes (broadcast variants,
0-d, empty dims for elementwise rows; consistently relabelled sizes for the others), a layout per input
(contiguous, transposed or strided view of a bigger buffer) and a value seed -- and checks:

- forward against the row's NumPy float64 reference, computed on the inputs' exact (rounded) values, in
  float32, float64, and float16 where the op accepts it (1e-3 of the inputs' and outputs' scale, see
  strategies.FLOAT16_RTOL); float in, same float out; inputs left untouched;
- gradients against finite differences in float64 (full Jacobians for small inputs, a random projection
  v^T J u as HIPS autograd's check_vjp does for bigger ones).

Rows the generator skips are computed (``strategies.plans()[1]``;
``python -m autograd_gpu.testing.strategies`` lists them with the reason). Today they are the rows whose every
sample carries an index array, a mask, a target or integer/bool data (gather/scatter/index_*, masked_*,
take_along_dim, nonzero, where, addcdiv's fixed divisor, cross_entropy/nll_loss/embedding/one_hot, bitwise and
integer ops, all/any/count_nonzero): their inputs are tied to those arrays, so tests/test_ops.py covers them
with its fixed samples.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import autograd_gpu as ag
from autograd_gpu.autograd.gradcheck import gradcheck
from autograd_gpu.testing import strategies as S
from autograd_gpu.testing.registry import all_ops

from conftest import DEVICES

PLANS, SKIPPED = S.plans()

# Small on purpose: ~160 rows x 2-3 devices; derandomized so CI failures reproduce exactly.
SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, database=None, print_blob=False,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
FULL_JACOBIAN_NUMEL = 12    # above this many input elements, gradcheck's fast (random projection) mode


def _params():
    out = []
    for plan in PLANS:
        for dev in DEVICES:
            marks = []
            if dev.split(":")[0] not in plan.info.devices:
                marks.append(pytest.mark.skip(reason=f"{plan.name} is not registered for {dev}"))
            out.append(pytest.param(plan, dev, id=f"{plan.name}-{dev}", marks=marks))
    return out


PARAMS = _params()


def _host(x):
    return x.detach()._host() if isinstance(x, ag.Tensor) else np.asarray(x)


def _outs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _tolerance(info, dtype, expected):
    if dtype == "float64":
        return info.atol, info.rtol
    if dtype == "float32":   # as tests/test_ops.py
        return max(info.atol, 1e-4), max(info.rtol, 1e-4)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return max(info.atol, S.FLOAT16_ATOL * scale), max(info.rtol, S.FLOAT16_RTOL)


def _spread16(info, case, arrays, expected, seed, draws=8):
    """Per output, how far the reference moves when every input moves to a neighbouring float16 value
    (random signs; the largest of ``draws``). Where that exceeds the tolerance the float16 result is noise
    for any float16 algorithm, PyTorch's included (batch_norm over two close values, losses that cancel)."""
    rng = np.random.default_rng(seed)
    steps = [np.spacing(np.abs(a).astype(np.float16)).astype(np.float64) for a in arrays]
    spread = [np.zeros(np.shape(e)) for e in expected]
    for _ in range(draws):
        moved = [np.asarray(a + s * rng.choice((-1.0, 1.0), np.shape(a))) for a, s in zip(arrays, steps)]
        with np.errstate(all="ignore"):
            out = _outs(S.call_ref(info, case.sample, case.shapes, moved))
        for k, (o, e) in enumerate(zip(out, expected)):
            if np.asarray(e).dtype.kind == "f" and np.shape(o) == np.shape(e):
                spread[k] = np.fmax(spread[k], np.abs(np.asarray(o, dtype=np.float64) - e))
    return spread


def _close(got, expected, atol, rtol):
    """Elementwise |got - e| <= atol + rtol |e| for the nearest of the candidate references."""
    got = got.astype(np.float64)
    ok = np.zeros(got.shape, dtype=bool)
    for e in expected:
        e = np.asarray(e, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok |= (np.abs(got - e) <= atol + rtol * np.abs(e)) | (got == e) | (np.isnan(got) & np.isnan(e))
    return ok


def _dtypes(plan):
    extra = ("float16",) if plan.float16 and "float16" not in plan.info.dtypes else ()
    return tuple(plan.info.dtypes) + extra


def _call(info, case, args, kwargs):
    """info.fn(...), or None where PyTorch too refuses the layout (view needs strides it can reinterpret)."""
    try:
        return info.fn(*args, **kwargs)
    except RuntimeError as e:
        if "view size is not compatible with input tensor's size and stride" in str(e) and \
                any(lay != "contiguous" for lay in case.layouts):
            return None
        raise


def test_generator_covers_most_rows():
    """A change in the registry conventions must not silently empty the property tests."""
    assert len(PLANS) >= 0.6 * len(all_ops()), sorted(SKIPPED)
    assert sum(p.elementwise for p in PLANS) >= 30
    assert all(SKIPPED.values())


@pytest.mark.parametrize("plan,dev", PARAMS)
@SETTINGS
@given(data=st.data())
def test_forward_matches_reference(plan, dev, data):
    info = plan.info
    if info.ref is None:
        pytest.skip("no NumPy reference")
    case = data.draw(S.cases(plan), label="case")
    for dtype in _dtypes(plan):
        note(f"dtype={dtype}")
        args, kwargs, tensors, arrays = S.build(plan, case, dev, dtype, requires_grad=False)
        with np.errstate(all="ignore"):
            expected = _outs(S.call_ref(info, case.sample, case.shapes, arrays))
            # PyTorch computes with a Python float either as is (opmath) or cast to the tensor's dtype,
            # depending on the kernel; in float16 either is right (fmod(x, 0.7) jumps by 0.7 otherwise)
            alt = _outs(S.call_ref(info, case.sample, case.shapes, arrays, np.float16)) \
                if dtype == "float16" else expected
        spread = _spread16(info, case, arrays, expected, case.seed) if dtype == "float16" \
            else [0.0] * len(alt)
        got = _call(info, case, args, kwargs)
        if got is None:
            return
        got = _outs(got)
        assert len(got) == len(expected), f"{info.name}: {len(got)} outputs, expected {len(expected)}"
        for o, e, e2, sp in zip(got, expected, alt, spread):
            assert isinstance(o, ag.Tensor), f"{info.name} returned {type(o).__name__}"
            assert o.device.type == dev.split(":")[0]
            assert tuple(o.shape) == np.shape(e), f"{info.name}: shape {tuple(o.shape)} != {np.shape(e)}"
            is_float = o.dtype.is_floating_point
            same = all(t.dtype == tensors[0].dtype for t in tensors)
            if is_float and same and "dtype" not in kwargs:
                assert o.dtype == tensors[0].dtype, f"{info.name}: {tensors[0].dtype} in, {o.dtype} out"
            if dtype == "float16" and not is_float:
                continue    # float16 rounding makes ties: indices may legitimately differ
            atol, rtol = _tolerance(info, dtype, e)
            h = _host(o)
            ok = _close(h, (e, e2), atol, rtol) | (sp > atol + rtol * np.abs(e))   # | ill-conditioned
            if not ok.all():
                bad = np.flatnonzero(~ok)[:5]
                pytest.fail(f"{info.name} {dtype} on {dev}: {case}\n"
                            f"{(~ok).sum()} of {ok.size} elements differ, "
                            f"e.g. at flat {bad.tolist()}: got {h.ravel()[bad].tolist()}, expected "
                            f"{np.ravel(e)[bad].tolist()} (atol {atol}, rtol {rtol})")
        for t, a in zip(tensors, arrays):  # the op must not write into its inputs (nor through their views)
            np.testing.assert_array_equal(_host(t).astype(np.float64), a,
                                          err_msg=f"{info.name} wrote into its input")


@pytest.mark.parametrize("plan,dev", PARAMS)
@SETTINGS
@given(data=st.data())
def test_gradient_matches_finite_differences(plan, dev, data):
    info = plan.info
    if not info.grad or not any(s.grad for s in plan.samples):
        pytest.skip("not differentiable")
    case = data.draw(S.cases(plan).filter(lambda c: c.sample.grad), label="case")
    args, kwargs, tensors, arrays = S.build(plan, case, dev, "float64", requires_grad=True)
    with np.errstate(all="ignore"):
        outs = _call(info, case, args, kwargs)
    if outs is None:
        return
    outs = _outs(outs)
    if not all(np.isfinite(_host(o)).all() for o in outs if o.dtype.is_floating_point):
        return              # e.g. var over a single element: the derivative is undefined there
    positions = [i for i, a in enumerate(case.sample.args) if S.is_shape(a)]

    def f(*xs):
        a = list(args)
        for i, x in zip(positions, xs):
            a[i] = x
        return info.fn(*a, **kwargs)
    numel = sum(t.numel() for t in tensors)
    assert gradcheck(f, tensors, atol=info.grad_atol, rtol=info.grad_rtol,
                     fast_mode=numel > FULL_JACOBIAN_NUMEL)
