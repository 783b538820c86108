"""The seed tutorial ("PyTorch入門 5. 自動微分", /work/shared/seed/autograd_tutorial_ja.txt) run on autograd_gpu.

Every code cell is run verbatim with ``import autograd_gpu as torch``; values are checked against closed
forms computed in NumPy float64, grad_fn reprs against PyTorch's format, and the printed output of the
last cell must equal the seed's output character for character.

The seed was made with an older PyTorch that printed ``BinaryCrossEntropyWithLogitsBackward``; current
PyTorch names that node ``BinaryCrossEntropyWithLogitsBackward0``, and we follow current PyTorch.
"""
import contextlib
import io
import os
import re
import runpy

import numpy as np
import pytest

import autograd_gpu

from conftest import DEVICES

SEED = "/work/shared/seed/autograd_tutorial_ja.txt"
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "seed_tutorial.py")

# The tutorial's code cells, verbatim (the leading "import torch" of cell 1 is replaced by the binding).
CELL1 = """x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w)+b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
"""
CELL2 = """print('Gradient function for z =',z.grad_fn)
print('Gradient function for loss =', loss.grad_fn)
"""
CELL3 = """loss.backward()
print(w.grad)
print(b.grad)
"""
CELL4 = """z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)
"""
CELL5 = """z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)
"""
CELL6 = """inp = torch.eye(5, requires_grad=True)
out = (inp+1).pow(2)
out.backward(torch.ones_like(inp), retain_graph=True)
print("First call\\n", inp.grad)
out.backward(torch.ones_like(inp), retain_graph=True)
print("\\nSecond call\\n", inp.grad)
inp.grad.zero_()
out.backward(torch.ones_like(inp), retain_graph=True)
print("\\nCall after zeroing gradients\\n", inp.grad)
"""
CELLS = (CELL1, CELL2, CELL3, CELL4, CELL5, CELL6)

# What the seed prints for the last cell (its values don't depend on random numbers).
CELL6_OUTPUT = """First call
 tensor([[4., 2., 2., 2., 2.],
        [2., 4., 2., 2., 2.],
        [2., 2., 4., 2., 2.],
        [2., 2., 2., 4., 2.],
        [2., 2., 2., 2., 4.]])

Second call
 tensor([[8., 4., 4., 4., 4.],
        [4., 8., 4., 4., 4.],
        [4., 4., 8., 4., 4.],
        [4., 4., 4., 8., 4.],
        [4., 4., 4., 4., 8.]])

Call after zeroing gradients
 tensor([[4., 2., 2., 2., 2.],
        [2., 4., 2., 2., 2.],
        [2., 2., 4., 2., 2.],
        [2., 2., 2., 4., 2.],
        [2., 2., 2., 2., 4.]])
"""


def _run(cell, ns):
    """exec a cell in namespace ``ns``; returns what it printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(cell, ns)
    return buf.getvalue()


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _bce_with_logits(z, y):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


@pytest.fixture
def ns():
    autograd_gpu.manual_seed(0)
    return {"torch": autograd_gpu}


@pytest.mark.skipif(not os.path.exists(SEED), reason="seed tutorial text not present")
def test_cells_are_the_seeds_code():
    text = open(SEED, encoding="utf-8").read()
    assert "import torch\n\n" + CELL1 in text
    for cell in CELLS[1:]:
        assert cell in text, cell
    assert CELL6 + CELL6_OUTPUT in text


def test_cell1_forward(ns):
    assert _run(CELL1, ns) == ""
    x, y, w, b, z, loss = (ns[k] for k in ("x", "y", "w", "b", "z", "loss"))
    for t, shape, rg in ((x, (5,), False), (y, (3,), False), (w, (5, 3), True), (b, (3,), True),
                         (z, (3,), True), (loss, (), True)):
        assert t.shape == shape and t.dtype is autograd_gpu.float32 and t.requires_grad is rg
    assert w.is_leaf and b.is_leaf and not z.is_leaf and not loss.is_leaf
    z_ref = _np(x) @ _np(w) + _np(b)
    np.testing.assert_allclose(_np(z), z_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loss.item(), _bce_with_logits(z_ref, _np(y)), rtol=1e-6)


def test_cell2_grad_fn_reprs(ns):
    _run(CELL1, ns)
    out = _run(CELL2, ns).splitlines()
    assert re.fullmatch(r"Gradient function for z = <AddBackward0 object at 0x[0-9a-f]+>", out[0])
    # current PyTorch's name (the seed's older PyTorch printed ...WithLogitsBackward)
    assert re.fullmatch(r"Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at "
                        r"0x[0-9a-f]+>", out[1])
    assert hex(id(ns["z"].grad_fn)) in out[0]
    assert len(out) == 2


def test_cell3_gradients(ns):
    _run(CELL1, ns)
    out = _run(CELL3, ns)
    x, y, w, b, z = (ns[k] for k in ("x", "y", "w", "b", "z"))
    z_ref = _np(x) @ _np(w) + _np(b)
    dz = (_sigmoid(z_ref) - _np(y)) / 3  # d mean(bce)/dz
    np.testing.assert_allclose(_np(w.grad), np.outer(_np(x), dz), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_np(b.grad), dz, rtol=1e-6, atol=1e-7)
    assert w.grad.dtype is autograd_gpu.float32 and w.grad.shape == (5, 3) and not w.grad.requires_grad
    # printed like the seed: 4 decimals, rows aligned under "tensor([["
    assert np.all((dz > 1e-4) & (dz < 1))  # fixed-point format applies (seeded values)
    row = "[" + ", ".join(f"{v:.4f}" for v in dz) + "]"
    expected_w = "tensor([" + ",\n        ".join([row] * 5) + "])\n"
    assert out == expected_w + f"tensor({row})\n"


def test_cell4_no_grad(ns):
    _run(CELL1, ns)
    _run(CELL3, ns)
    assert _run(CELL4, ns) == "True\nFalse\n"
    assert ns["z"].grad_fn is None and ns["z"].is_leaf


def test_cell5_detach(ns):
    _run(CELL1, ns)
    assert _run(CELL5, ns) == "False\n"
    z, z_det = ns["z"], ns["z_det"]
    assert z.requires_grad and z_det.grad_fn is None
    np.testing.assert_array_equal(_np(z), _np(z_det))


def test_cell6_output_exactly_as_seed(ns):
    assert _run(CELL6, ns) == CELL6_OUTPUT
    inp = ns["inp"]
    # d/dinp sum((inp+1)^2) = 2 (inp+1), accumulated once after zeroing
    np.testing.assert_array_equal(_np(inp.grad), 2 * (np.eye(5) + 1))


def test_whole_tutorial_in_one_namespace(ns):
    out = "".join(_run(cell, ns) for cell in CELLS)
    assert out.endswith("True\nFalse\nFalse\n" + CELL6_OUTPUT)


def test_example_script_prints_the_tutorial():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runpy.run_path(EXAMPLE, run_name="__main__")
    out = buf.getvalue()
    assert out.startswith("Gradient function for z = <AddBackward0 object at 0x")
    assert out.endswith(CELL6_OUTPUT)


@pytest.mark.parametrize("device", DEVICES)
def test_tutorial_math_on_every_device(device):
    """The same computations with every tensor on ``device``; gradients vs the closed forms."""
    torch = autograd_gpu
    torch.manual_seed(0)
    x = torch.ones(5, device=device)
    y = torch.zeros(3, device=device)
    w = torch.randn(5, 3, requires_grad=True, device=device)
    b = torch.randn(3, requires_grad=True, device=device)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    assert str(z.device).split(":")[0] == device.split(":")[0]
    assert z.grad_fn.name() == "AddBackward0"
    assert loss.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    loss.backward()
    z_ref = _np(x) @ _np(w) + _np(b)
    np.testing.assert_allclose(loss.item(), _bce_with_logits(z_ref, 0.0), rtol=1e-5)
    dz = _sigmoid(z_ref) / 3
    np.testing.assert_allclose(_np(w.grad), np.outer(np.ones(5), dz), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_np(b.grad), dz, rtol=1e-5, atol=1e-7)
    assert w.grad.device == w.device and b.grad.device == b.device

    inp = torch.eye(5, requires_grad=True, device=device)
    out = (inp + 1).pow(2)
    out.backward(torch.ones_like(inp), retain_graph=True)
    out.backward(torch.ones_like(inp), retain_graph=True)
    np.testing.assert_array_equal(_np(inp.grad), 4 * (np.eye(5) + 1))
    inp.grad.zero_()
    out.backward(torch.ones_like(inp), retain_graph=True)
    np.testing.assert_array_equal(_np(inp.grad), 2 * (np.eye(5) + 1))
