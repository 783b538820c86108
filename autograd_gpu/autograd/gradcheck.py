"""gradcheck / gradgradcheck: analytical gradients against central finite differences (PyTorch's defaults,
checks and failure text).

Jacobian blocks are laid out as PyTorch prints them: one row per input element, one column per output
element. Slow mode compares full Jacobians; fast mode compares v^T J u for random u, v (one finite
difference and one backward per input/output pair). check_forward_ad compares forward-mode (dual tensor)
Jacobians instead. Not checked (no equivalent here): batched gradients (vmap), undefined output gradients
(the engine materializes missing gradients as zeros).
"""
from __future__ import annotations

import warnings

import numpy as np


class GradcheckError(RuntimeError):
    """Error raised by :func:`gradcheck` and :func:`gradgradcheck`."""


FAILED_NONDET_MSG = """\n
NOTE: If your op relies on non-deterministic operations i.e., it is listed here:
https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html
this failure might be expected.

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `nondet_tol=<tol>` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_nondet_tol=<tol>`.
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_nondet_tol=<tol>`
"""

FAST_FAIL_SLOW_OK_MSG = """
Fast gradcheck failed but element-wise differences are small. This means that the
test might've passed in slow_mode!

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck:

If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `fast_mode=False` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_fast_mode=False`
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_fast_mode=False`
""".strip()


def _T():
    from ..tensor import Tensor
    return Tensor


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _diff_inputs(inputs):
    """(position, tensor) of every input tensor that requires grad."""
    Tensor = _T()
    return [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _check_inputs(inputs):
    diff = _diff_inputs(inputs)
    for idx, t in diff:
        if t.dtype.name not in ("float64", "complex128"):
            warnings.warn(f"Input #{idx} requires gradient and is not a double precision floating point or "
                          "complex. This check will likely fail if all the inputs are not of double "
                          "precision floating point or complex. ", stacklevel=4)
        if t._data.size and any(st == 0 and n > 1 for st, n in zip(t._data.strides, t._data.shape)):
            raise RuntimeError(f"The {idx}th input has a dimension with stride 0. gradcheck only supports "
                               "inputs that are non-overlapping to be able to compute the numerical "
                               "gradients correctly. You should call .contiguous on the input before passing "
                               "it to gradcheck.")
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them "
                         "have requires_grad=True.")
    return diff


def _tensor_outputs(out):
    Tensor = _T()
    return [o for o in _as_tuple(out) if isinstance(o, Tensor)]


def _host64(t):
    return np.array(t._host(), dtype=np.float64)  # a copy: an output may be a view of a perturbed input


def _as_printed(a):
    """A float64 Jacobian block as PyTorch prints it (a tensor)."""
    return _T()._make(np.ascontiguousarray(a, dtype=np.float64))


def _float_tensor(a, like):
    """A host array as a tensor on ``like``'s device and dtype."""
    dev = like._device
    data = np.asarray(a, dtype=like._data.dtype)
    return _T()._make(dev.xp.asarray(data) if dev.type == "cuda" else data, dev)


# --- numerical ---------------------------------------------------------------------------------------------

def _eval(func, inputs):
    from .grad_mode import no_grad
    with no_grad():
        return [_host64(o).ravel() for o in _tensor_outputs(func(*inputs))]


def _numerical_jacobian(func, inputs, diff, eps):
    """J[k][j]: (numel of input j, numel of output k), by central differences on each input element."""
    base = _eval(func, inputs)
    jac = [[np.zeros((t.numel(), b.size)) for _, t in diff] for b in base]
    for j, (_, t) in enumerate(diff):
        data = t._data
        for col, idx in enumerate(np.ndindex(*data.shape)):
            orig = data[idx].item()
            data[idx] = orig - eps
            minus = _eval(func, inputs)
            data[idx] = orig + eps
            plus = _eval(func, inputs)
            data[idx] = orig
            for k in range(len(base)):
                jac[k][j][col, :] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _numerical_directional(func, inputs, t, u, eps):
    """J u for each output (flat), u a unit vector over input ``t``: (f(x + eps u) - f(x - eps u)) / 2 eps."""
    data = t._data
    orig = data.copy()
    step = _float_tensor(u.reshape(data.shape) * eps, t)._data
    data[...] = orig - step
    minus = _eval(func, inputs)
    data[...] = orig + step
    plus = _eval(func, inputs)
    data[...] = orig
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


# --- analytical --------------------------------------------------------------------------------------------

def _vjp_rows(output, diff, vectors, check_grad_dtypes):
    """For each v in ``vectors`` (flat, output-sized): (v^T J) per input, flat, with the attribute checks."""
    from .engine import grad
    rows = []
    for v in vectors:
        gv = _float_tensor(v.reshape(output._data.shape), output)
        grads = grad([output], [t for _, t in diff], [gv], retain_graph=True, allow_unused=True)
        row = []
        for g, (_, t) in zip(grads, diff):
            if g is None:
                row.append(np.zeros(t.numel()))
                continue
            if check_grad_dtypes and g._data.dtype != t._data.dtype:
                raise GradcheckError("Gradient has dtype mismatch")
            if g._data.shape != t._data.shape:
                raise GradcheckError("Analytical gradient has incorrect size")
            row.append(_host64(g).ravel())
        rows.append(row)
    return rows


def _analytical_jacobian(output, diff, nondet_tol, check_grad_dtypes, vectors=None):
    """Blocks (numel of input j, number of vectors) of J^T v; computed twice to check reentrancy."""
    n = output.numel()
    if vectors is None:
        vectors = list(np.eye(n)) if n else []
    first = _vjp_rows(output, diff, vectors, check_grad_dtypes)
    second = _vjp_rows(output, diff, vectors, check_grad_dtypes)
    blocks = []
    for j, (_, t) in enumerate(diff):
        a = np.stack([r[j] for r in first], axis=1) if first else np.zeros((t.numel(), 0))
        b = np.stack([r[j] for r in second], axis=1) if second else a
        if a.size and np.abs(a - b).max() > nondet_tol:
            raise GradcheckError("Backward is not reentrant, i.e., running backward with same input and "
                                 "grad_output multiple times gives different values, although analytical "
                                 "gradient matches numerical gradient.The tolerance for nondeterminism was "
                                 f"{nondet_tol}."
                                 + FAILED_NONDET_MSG)
        blocks.append(a)
    return blocks


def _forward_jvp(func, inputs, diff, tangents, check_grad_dtypes):
    """Output tangents (flat, per tensor output) for ``tangents`` (flat, one per differentiable input)."""
    from . import forward_ad as fwAD
    args = list(inputs)
    with fwAD.dual_level():
        for (pos, t), v in zip(diff, tangents):
            args[pos] = fwAD.make_dual(t.detach(), _float_tensor(v.reshape(t._data.shape), t))
        outs = _tensor_outputs(func(*args))
        res = []
        for o in outs:
            tan = fwAD.unpack_dual(o).tangent
            if tan is None:
                res.append(np.zeros(o.numel()))
                continue
            if check_grad_dtypes and tan._data.dtype != o._data.dtype:
                raise GradcheckError("Forward AD gradient has dtype mismatch.")
            res.append(_host64(tan).ravel())
    return res


def _forward_jacobian(func, inputs, diff, check_grad_dtypes):
    """J[k][j] like _numerical_jacobian, one forward-mode pass per input element."""
    jac = None
    for j, (_, t) in enumerate(diff):
        for col in range(t.numel()):
            tangents = [np.zeros(s.numel()) for _, s in diff]
            tangents[j][col] = 1.0
            res = _forward_jvp(func, inputs, diff, tangents, check_grad_dtypes)
            if jac is None:
                jac = [[np.zeros((s.numel(), r.size)) for _, s in diff] for r in res]
            for k, r in enumerate(res):
                jac[k][j][col, :] = r
    return jac


# --- checks ------------------------------------------------------------------------------------------------

def _notallclose_msg(a, n, output_idx, input_idx, forward=False):
    mode = "computed with forward mode " if forward else ""
    return (f"Jacobian {mode}mismatch for output {output_idx:d} with respect to input {input_idx:d},\n"
            f"numerical:{n}\nanalytical:{a}\n")


def _allclose(a, n, rtol, atol):
    return bool(np.allclose(a, n, rtol=rtol, atol=atol))


def _slow_gradcheck(func, func_out, inputs, diff, out_idx, eps, rtol, atol, check_grad_dtypes, nondet_tol,
                    use_forward_ad):
    all_outs = _tensor_outputs(func_out)
    numerical = _numerical_jacobian(func, inputs, diff, eps)
    if not out_idx:
        for blocks in numerical:
            for n in blocks:
                if not _allclose(n, 0.0, 0.0, atol):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return
    numerical = [numerical[k] for k in out_idx]
    if use_forward_ad:
        analytical = _forward_jacobian(func, inputs, diff, check_grad_dtypes)
        analytical = [analytical[k] for k in out_idx] if analytical else []
    else:
        analytical = [_analytical_jacobian(all_outs[k], diff, nondet_tol, check_grad_dtypes) for k in out_idx]
    for i, (arow, nrow) in enumerate(zip(analytical, numerical)):
        for j, (a, n) in enumerate(zip(arow, nrow)):
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(_notallclose_msg(_as_printed(a), _as_printed(n), i, j, use_forward_ad))


def _fast_gradcheck(func, func_out, inputs, diff, out_idx, eps, rtol, atol, check_grad_dtypes, nondet_tol,
                    use_forward_ad):
    rng = np.random.default_rng(0)  # own generator: the user's RNG state is left alone
    all_outs = _tensor_outputs(func_out)

    def unit(n):
        u = rng.random(n)
        return u / (np.linalg.norm(u) or 1.0)
    all_u = [unit(t.numel()) for _, t in diff]
    all_v = None if use_forward_ad else [unit(all_outs[k].numel()) for k in out_idx]
    numerical_Ju = [_numerical_directional(func, inputs, t, u, eps) for (_, t), u in zip(diff, all_u)]
    if not out_idx:
        for Ju in numerical_Ju:
            for x in Ju:
                if not _allclose(x, 0.0, 0.0, atol):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return
    for j, u in enumerate(all_u):
        if use_forward_ad:
            tangents = [u if m == j else np.zeros(t.numel()) for m, (_, t) in enumerate(diff)]
            res = _forward_jvp(func, inputs, diff, tangents, check_grad_dtypes)
        for i, k in enumerate(out_idx):
            n_Ju = numerical_Ju[j][k]
            if use_forward_ad:
                a, n, tol = res[k], n_Ju, atol * float(u.sum())
            else:
                vJ = _analytical_jacobian(all_outs[k], diff, nondet_tol, check_grad_dtypes,
                                          [all_v[i]])[j][:, 0]
                a, n = float(vJ @ u), float(all_v[i] @ n_Ju)
                tol = atol * float(u.sum()) * float(all_v[i].sum())
            if not _allclose(a, n, rtol, tol):
                msg = _notallclose_msg(_scalar_or_tensor(a), _scalar_or_tensor(n), i, j, use_forward_ad)
                raise GradcheckError(msg + _slow_mode_error(func, inputs, diff, all_outs, k, j, i, rtol, atol,
                                                            eps, use_forward_ad))


def _scalar_or_tensor(x):
    return float(x) if np.ndim(x) == 0 else _as_printed(np.asarray(x))


def _slow_mode_error(func, inputs, diff, all_outs, k, j, i, rtol, atol, eps, use_forward_ad):
    n = _numerical_jacobian(func, inputs, diff, eps)[k][j]
    if use_forward_ad:
        a = _forward_jacobian(func, inputs, diff, False)[k][j]
    else:
        a = _analytical_jacobian(all_outs[k], diff, float("inf"), False)[j]
    max_diff = float(np.abs(n - a).max()) if n.size else 0.0
    msg = ("\nThe above quantities relating the numerical and analytical jacobians are computed \n"
           "in fast mode. See: https://github.com/pytorch/pytorch/issues/53876 for more background \nabout "
           "fast mode. Below, we recompute numerical and analytical jacobians in slow mode:\n\nNumerical:\n "
           f"{_as_printed(n)}\nAnalytical:\n{_as_printed(a)}\n\nThe max per-element difference (slow mode) "
           f"is: {max_diff}.\n")
    if _allclose(a, n, rtol, atol):
        msg += FAST_FAIL_SLOW_OK_MSG
    return msg


def _test_backward_mul_by_grad_output(outputs, diff):
    from .engine import grad
    from ..creation import zeros_like
    grads = grad(outputs, [t for _, t in diff], [zeros_like(o) for o in outputs], allow_unused=True)
    for gi, (_, di) in zip(grads, diff):
        if gi is None:
            continue
        if not bool(np.all(gi._host() == 0)):
            raise GradcheckError("backward not multiplied by grad_output")
        if gi._data.dtype != di._data.dtype:
            raise GradcheckError("grad is incorrect type")
        if gi._device is not di._device:
            raise GradcheckError("grad is incorrect device")
        if gi._data.shape != di._data.shape:
            raise GradcheckError("grad is incorrect size")


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check analytical gradients of ``func`` at ``inputs`` against finite differences (float64 inputs).

    allclose(analytical, numerical, rtol, atol) for every (output, input) Jacobian block."""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError("Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError("Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    try:
        return _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes,
                                 check_forward_ad, check_backward_ad, fast_mode)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes, check_forward_ad,
                      check_backward_ad, fast_mode):
    inputs = _as_tuple(inputs)
    diff = _check_inputs(inputs)
    func_out = func(*inputs)
    all_outs = _tensor_outputs(func_out)
    out_idx = [k for k, o in enumerate(all_outs) if o.requires_grad]
    check = _fast_gradcheck if fast_mode else _slow_gradcheck
    if check_forward_ad:
        fw_idx = [k for k, o in enumerate(all_outs) if o._data.dtype.kind in "fc"]
        check(func, func_out, inputs, diff, fw_idx, eps, rtol, atol, check_grad_dtypes, nondet_tol, True)
    if not check_backward_ad:
        return True
    check(func, func_out, inputs, diff, out_idx, eps, rtol, atol, check_grad_dtypes, nondet_tol, False)
    outputs = [all_outs[k] for k in out_idx]
    if outputs:
        _test_backward_mul_by_grad_output(outputs, diff)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of (inputs, grad_outputs) -> d(func)/d(inputs) · grad_outputs."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_batched_grad=True requires check_rev_over_rev to be True")
    from .engine import grad
    from .grad_mode import enable_grad
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        outs = [o for o in _tensor_outputs(func(*inputs)) if o.requires_grad]
        grad_outputs = []
        for o in outs:
            grad_outputs.append(_float_tensor(rng.uniform(-1, 1, o._data.shape), o).requires_grad_())
    grad_outputs = _as_tuple(grad_outputs)
    n_out = len(grad_outputs)
    diff_in = {i for i, _ in _diff_inputs(inputs)}
    diff_go = {i for i, g in enumerate(grad_outputs) if g.requires_grad}

    def new_func(*args):
        ins, gos = args[:-n_out] if n_out else args, args[-n_out:] if n_out else ()
        # restore requires_grad: the forward-mode pass hands in detached dual tensors
        ins = tuple(x.requires_grad_() if i in diff_in else x for i, x in enumerate(ins))
        gos = tuple(g.requires_grad_() if i in diff_go else g for i, g in enumerate(gos))
        with enable_grad():
            outs = [o for o in _tensor_outputs(func(*ins)) if o.requires_grad]
            grads = grad(outs, [x for i, x in enumerate(ins) if i in diff_in],
                         [g for g in gos], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(new_func, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_grad_dtypes=check_grad_dtypes,
                     fast_mode=fast_mode, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev)
