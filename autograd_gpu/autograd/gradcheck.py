"""gradcheck / gradgradcheck: analytical gradients against central finite differences (float64)."""
from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _tensors(inputs):
    from ..tensor import Tensor
    return [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _outputs(func, inputs):
    from ..tensor import Tensor
    out = func(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.is_floating_point]


def _numerical_jacobian(func, inputs, diff, eps):
    """J[k][j] = d out_k / d in_j, columns by central differences on each input element."""
    from ..autograd.grad_mode import no_grad
    jac = None
    with no_grad():
        base = [o._host().astype(np.float64) for o in _outputs(func, inputs)]
        jac = [[np.zeros((b.size, t.numel())) for _, t in diff] for b in base]
        for j, (_, t) in enumerate(diff):
            host = t._host()
            flat_idx = np.ndindex(*host.shape) if host.ndim else [()]
            for col, idx in enumerate(flat_idx):
                orig = host[idx].item()
                t._data[idx] = orig + eps
                plus = [o._host().astype(np.float64).ravel() for o in _outputs(func, inputs)]
                t._data[idx] = orig - eps
                minus = [o._host().astype(np.float64).ravel() for o in _outputs(func, inputs)]
                t._data[idx] = orig
                for k in range(len(base)):
                    jac[k][j][:, col] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _analytical_jacobian(func, inputs, diff):
    from .engine import grad as autograd_grad
    from ..tensor import Tensor
    outs = _outputs(func, inputs)
    jac = [[np.zeros((o.numel(), t.numel())) for _, t in diff] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for row in range(o.numel()):
            v = np.zeros(o.numel(), dtype=o._host().dtype)
            v[row] = 1
            gv = Tensor._make(o._device.xp.asarray(v.reshape(o._data.shape)) if o._device.type == "cuda"
                              else v.reshape(o._data.shape), o._device)
            grads = autograd_grad([o], [t for _, t in diff], [gv], retain_graph=True, allow_unused=True)
            for j, g in enumerate(grads):
                if g is not None:
                    jac[k][j][row, :] = g._host().astype(np.float64).ravel()
    return jac


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False, fast_mode: bool = False,
              masked=None) -> bool:
    """Check gradients of ``func`` at ``inputs`` (tensors requiring grad, float64) by finite differences."""
    from ..tensor import Tensor
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = _tensors(inputs)
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them "
                         "have requires_grad=True.")
    for i, t in diff:
        if t.dtype.name != "float64":
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. This check "
                          "will likely fail if all the inputs are not of double precision floating point. ")
    numerical = _numerical_jacobian(func, inputs, diff, eps)
    analytical = _analytical_jacobian(func, inputs, diff)
    for k, (nrow, arow) in enumerate(zip(numerical, analytical)):
        for j, (n, a) in enumerate(zip(nrow, arow)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                msg = (f"Jacobian mismatch for output {k} with respect to input {diff[j][0]},\n"
                       f"numerical:{n}\nanalytical:{a}\n")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of (inputs, grad_outputs) -> d(func)/d(inputs) · grad_outputs."""
    from ..tensor import Tensor
    from .engine import grad as autograd_grad
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outs = [o for o in _outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = []
        for o in outs:
            v = rng.standard_normal(o._data.shape).astype(o._host().dtype)
            dev = o._device
            data = dev.xp.asarray(v) if dev.type == "cuda" else v
            grad_outputs.append(Tensor._make(data, dev, True))
    grad_outputs = tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, t in _tensors(inputs)]

    def first_grad(*args):
        from .grad_mode import enable_grad
        ins, gos = args[:n_in], args[n_in:]
        with enable_grad():
            outs = [o for o in _outputs(func, ins) if o.requires_grad]
            grads = autograd_grad(outs, [ins[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_grad, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
