"""Every public op has a row in the op registry (so it is forward-checked and gradchecked on every device)."""
import inspect

import autograd_gpu as ag
from autograd_gpu.ops import public
from autograd_gpu.testing.registry import all_ops

# Functions that return Python values rather than tensors: tested in tests/test_pointwise_extra.py.
RETURN_PYTHON_VALUES = {"allclose", "equal"}


def _covered():
    names = set()
    for r in all_ops():
        names.add(r.name)
        names.update(r.aliases)
    return names


def _needs_row(name, covered):
    if name.startswith("_") or name in RETURN_PYTHON_VALUES:
        return False
    # an in-place variant (relu_) shares its row with the out-of-place op; tests/test_inplace.py covers it
    if name.endswith("_") and (name[:-1] in covered or f"nn.functional.{name[:-1]}" in covered):
        return False
    return True


def test_every_public_op_has_a_registry_row():
    covered = _covered()
    fns = [n for n in dir(public) if callable(getattr(public, n)) and not inspect.isclass(getattr(public, n))]
    missing = [n for n in fns if _needs_row(n, covered) and n not in covered and f"Tensor.{n}" not in covered]
    assert not missing, f"public ops without a registry row: {missing}"


def test_every_nn_functional_op_has_a_registry_row():
    covered = _covered()
    F = ag.nn.functional
    fns = [n for n in dir(F) if inspect.isfunction(getattr(F, n))]
    missing = [n for n in fns if _needs_row(n, covered) and f"nn.functional.{n}" not in covered
               and n not in covered]
    assert not missing, f"nn.functional ops without a registry row: {missing}"


def test_rows_have_samples_and_references():
    for r in all_ops():
        assert r.samples, f"{r.name}: no samples"
        assert r.ref is not None or not r.grad or r.skip_reason or r.name.startswith("nn.functional."), r.name
