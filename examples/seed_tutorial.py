"""The seed tutorial (PyTorch's "Automatic Differentiation with torch.autograd", Japanese edition): every code
cell in order, unchanged but for the import, run on autograd_gpu.

    pip install -e . && python examples/seed_tutorial.py   (or: PYTHONPATH=. python examples/seed_tutorial.py)

The seed printed ``BinaryCrossEntropyWithLogitsBackward`` (an older PyTorch); current PyTorch, and
autograd_gpu, print ``BinaryCrossEntropyWithLogitsBackward0``.
"""
import autograd_gpu as torch

# --- cell 1: a one-layer network and its loss
x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w)+b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

# --- cell 2: the graph's backward functions
print('Gradient function for z =', z.grad_fn)
print('Gradient function for loss =', loss.grad_fn)

# --- cell 3: gradients
loss.backward()
print(w.grad)
print(b.grad)

# --- cell 4: no_grad
z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)

# --- cell 5: detach
z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)

# --- cell 6: vector-Jacobian products, accumulation, zeroing
inp = torch.eye(5, requires_grad=True)
out = (inp+1).pow(2)
out.backward(torch.ones_like(inp), retain_graph=True)
print("First call\n", inp.grad)
out.backward(torch.ones_like(inp), retain_graph=True)
print("\nSecond call\n", inp.grad)
inp.grad.zero_()
out.backward(torch.ones_like(inp), retain_graph=True)
print("\nCall after zeroing gradients\n", inp.grad)
