"""Indexing and shape-op semantics the op registry can't express: views and version counters, grad_fn names,
PyTorch's index rules where they differ from NumPy's, in-place index writes, and error types and wording."""
import numpy as np
import pytest

import autograd_gpu as ag

from conftest import DEVICES


def T(data, dev, **kw):
    return ag.tensor(data, device=dev, **kw)


def host(t):
    return t.detach()._host()


@pytest.fixture(params=DEVICES)
def dev(request):
    return request.param


@pytest.fixture
def x(dev):
    return T(np.arange(60.).reshape(3, 4, 5), dev, requires_grad=True)


# ----------------------------------------------------------------- grad_fn names
@pytest.mark.parametrize("index,name", [
    (1, "SelectBackward0"), ((0, 1), "SelectBackward0"), (slice(1, 3), "SliceBackward0"),
    (slice(None), "SliceBackward0"), ((slice(None), slice(None)), "AliasBackward0"),
    (Ellipsis, "AliasBackward0"), ((), "AliasBackward0"), (None, "UnsqueezeBackward0"),
    ((None, 1), "SelectBackward0"), ((1, None), "UnsqueezeBackward0"), ((1, slice(None)), "SelectBackward0"),
    ((slice(1, None), None, slice(None)), "UnsqueezeBackward0"),
    ((slice(None), slice(1, None)), "SliceBackward0"),
    ([0, 2], "IndexBackward0"), (True, "IndexBackward0"),
])
def test_getitem_grad_fn_names(x, index, name):
    assert x[index].grad_fn.name() == name


def test_op_grad_fn_names(x, dev):
    i = T([0, 2, 2], dev)
    m = x > 30
    z = ag.zeros(2, 4, 5, dtype=ag.int64, device=dev)
    names = {
        "CatBackward0": ag.cat([x, x]), "StackBackward0": ag.stack([x, x]), "SplitBackward0": x.split(2)[0],
        "SplitWithSizesBackward0": x.split([1, 2])[0], "UnbindBackward0": x.unbind(1)[0],
        "FlipBackward0": x.flip(0), "TrilBackward0": x.tril(), "TriuBackward0": x.triu(1),
        "RepeatBackward0": x.repeat(2, 1, 1), "RollBackward0": x.roll(1, 0),
        "PermuteBackward0": x.movedim(0, 2), "IndexBackward0": x[i],
        "IndexSelectBackward0": x.index_select(0, i), "GatherBackward0": x.gather(0, z),
        "ScatterBackward0": x.scatter(0, z[:1], x), "ScatterBackward1": x.scatter(0, z[:1], 1.0),
        "ScatterAddBackward0": x.scatter_add(0, z, x), "MaskedFillBackward0": x.masked_fill(m, 1.0),
        "MaskedFillBackward1": x.masked_fill(m, T(1.0, dev)), "MaskedSelectBackward0": x.masked_select(m),
        "IndexAddBackward0": x.index_add(0, i, x), "SliceBackward0": x.narrow(1, 1, 2),
    }
    for name, t in names.items():
        assert t.grad_fn.name() == name
    assert x.chunk(2)[0].grad_fn.name() == "SplitBackward0"
    assert ag.take_along_dim(x, z[:1, :1], 1).grad_fn.name() == "GatherBackward0"


def test_double_backward_names(x, dev):
    w = ag.ones(2, 4, 5, device=dev, requires_grad=True)
    (g,) = ag.autograd.grad((x[[0, 2]] * w).sum(), x, create_graph=True)
    assert g.grad_fn.name() == "IndexPutImplBackward0"
    (g,) = ag.autograd.grad((x.gather(0, ag.zeros(2, 4, 5, dtype=ag.int64, device=dev)) * w).sum(), x,
                            create_graph=True)
    assert g.grad_fn.name() == "ScatterAddBackward0"


# ----------------------------------------------------------------- views and version counters
def test_basic_index_is_a_view(dev):
    base = T(np.zeros((3, 4)), dev)
    v = base[1, 1:3]
    assert v._base is base and v._version is base._version
    base[1, 2] = 5.0
    assert host(v).tolist() == [0.0, 5.0]
    assert v._version[0] == 1
    adv = base[[0, 1]]
    assert adv._base is None and adv._version is not base._version


def test_split_unbind_outputs_are_views(dev):
    base = T(np.arange(6.).reshape(3, 2), dev)
    parts = base.split(2)
    rows = base.unbind()
    assert all(p._base is base for p in parts + rows)
    base[2, 0] = -1.0
    assert host(parts[1]).tolist() == [[-1.0, 5.0]] and host(rows[2]).tolist() == [-1.0, 5.0]
    assert [tuple(r.shape) for r in base] == [(2,)] * 3


def test_saved_index_freed_after_backward(x):
    y = x[[0, 1]].sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


# ----------------------------------------------------------------- PyTorch's index rules
def test_int_applies_before_advanced_index(x, dev):
    i = T([0, 1], dev)
    assert tuple(x[1, :, i].shape) == (4, 2)  # NumPy would give (2, 4): PyTorch selects first
    np.testing.assert_array_equal(host(x[1, :, i]), host(x)[1][:, [0, 1]])
    assert tuple(x[i, :, 1].shape) == (2, 4)


def test_list_with_slices_is_a_tuple(x):
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        assert tuple(x[[0, slice(None)]].shape) == (4, 5)
    assert tuple(x[(0, 1), ].shape) == (2, 4, 5)  # a tuple inside the index tuple is an index tensor


def test_bool_and_empty_indices(x, dev):
    assert tuple(x[True].shape) == (1, 3, 4, 5) and tuple(x[False].shape) == (0, 3, 4, 5)
    assert tuple(x[T(True, dev)].shape) == (1, 3, 4, 5)
    assert tuple(x[[]].shape) == (0, 4, 5)
    assert tuple(x[T([1, 0, 1], dev).to(ag.uint8)].shape) == (2, 4, 5)
    assert tuple(x[T(1, dev)].shape) == (4, 5) and x[T(1, dev)].grad_fn.name() == "SelectBackward0"
    assert tuple(x[..., ...].shape) == (3, 4, 5)


def test_cpu_index_on_other_device(x):
    assert tuple(x[ag.tensor([0, 2])].shape) == (2, 4, 5)


def test_repeated_index_gradient_accumulates(dev):
    a = T(np.arange(4.), dev, requires_grad=True)
    a[T([1, 1, 3, 1], dev)].sum().backward()
    assert host(a.grad).tolist() == [0.0, 3.0, 0.0, 1.0]


# ----------------------------------------------------------------- __setitem__
def test_setitem_no_grad_writes_in_place(dev):
    a = T(np.zeros((3, 4)), dev)
    data = a._data
    a[1] = 2.0
    a[:, T([0, 3], dev)] = T([7.0, 8.0], dev)
    a[a > 7.5] = -1.0
    assert a._data is data and a._version[0] == 3
    assert host(a).tolist() == [[7, 0, 0, -1], [7, 2, 2, -1], [7, 0, 0, -1]]
    i = ag.zeros(2, 3, dtype=ag.int64, device=dev)
    i[0, 1] = 2.7  # float into int truncates, like PyTorch
    assert host(i).tolist() == [[0, 2, 0], [0, 0, 0]]


def test_setitem_gradients(dev):
    x = T(np.arange(12.).reshape(3, 4), dev, requires_grad=True)
    v = T(np.ones(4), dev, requires_grad=True)
    y = x * 1
    y[1] = v
    assert y.grad_fn.name() == "torch::autograd::CopySlices" and "grad_fn=<CopySlices>" in repr(y)
    (y * T(np.arange(12.).reshape(3, 4), dev)).sum().backward()
    assert host(x.grad)[1].tolist() == [0.0] * 4 and host(x.grad)[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert host(v.grad).tolist() == [4.0, 5.0, 6.0, 7.0]
    z = ag.zeros(2, 3, device=dev)
    s = T(2.0, dev, requires_grad=True)
    z[:, T([0, 2], dev)] = s  # a tensor that doesn't require grad takes the value's graph
    assert z.grad_fn.name() == "IndexPutBackward0" and z.requires_grad
    z.sum().backward()
    assert s.grad.item() == 4.0


def test_setitem_leaf_errors(dev):
    leaf = ag.zeros(3, device=dev, requires_grad=True)
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad is being used"):
        leaf[0] = 1.0
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used in an"):
        leaf[T([0], dev)] = 1.0
    with ag.no_grad():
        leaf[0] = 1.0
    assert host(leaf).tolist() == [1.0, 0.0, 0.0]


def test_setitem_value_errors(dev):
    a = ag.zeros(3, 4, 5, device=dev)
    with pytest.raises(RuntimeError) as info:
        a[0] = ag.zeros(3, device=dev)
    assert str(info.value) == ("The expanded size of the tensor (5) must match the existing size (3) at "
                               "non-singleton dimension 1.  Target sizes: [4, 5].  Tensor sizes: [3]")
    with pytest.raises(RuntimeError) as info:
        a[T([0, 1], dev)] = ag.zeros(3, 4, 5, device=dev)
    assert str(info.value) == ("shape mismatch: value tensor of shape [3, 4, 5] cannot be broadcast to "
                               "indexing result of shape [2, 4, 5]")
    with pytest.raises(TypeError, match="can't assign a list to a torch.FloatTensor"):
        a[0, 0] = [1, 2, 3, 4, 5]
    a[0] = ag.ones(1, 1, 4, 5, device=dev)  # leading ones are dropped
    assert host(a)[0].sum() == 20
    assert a._version[0] == 1


def test_index_put_accumulate(dev):
    a = ag.zeros(4, device=dev)
    out = a.index_put((T([1, 1, 3], dev),), T([1.0, 2.0, 3.0], dev), accumulate=True)
    assert host(out).tolist() == [0.0, 3.0, 0.0, 3.0] and host(a).tolist() == [0.0] * 4
    a.index_put_((T([0], dev),), T(5.0, dev))
    assert host(a).tolist() == [5.0, 0.0, 0.0, 0.0]


# ----------------------------------------------------------------- in-place variants
def test_inplace_variants(dev):
    a = ag.zeros(3, 4, device=dev)
    m = T(np.array([True, False, True, False]), dev)
    assert a.masked_fill_(m, 2.0) is a and host(a)[:, 0].tolist() == [2.0] * 3 and a._version[0] == 1
    with pytest.raises(RuntimeError, match=r"output with shape \[4\] doesn't match the broadcast shape"):
        ag.zeros(4, device=dev).masked_fill_(a > 1, 1.0)
    a.scatter_(0, ag.zeros(1, 4, dtype=ag.int64, device=dev), 7.0)
    assert host(a)[0].tolist() == [7.0] * 4
    a.scatter_add_(1, T([[0, 0]], dev), T([[1.0, 1.0]], dev))
    a.index_add_(0, T([2, 2], dev), ag.ones(2, 4, device=dev))
    assert host(a)[0, 0] == 9.0 and host(a)[2].tolist() == [4.0, 2.0, 4.0, 2.0]
    b = ag.ones(3, 3, device=dev)
    b.tril_()
    b.triu_()
    assert host(b).tolist() == np.eye(3).tolist()


def test_masked_fill_inplace_tracks_value(dev):
    x = T(np.arange(4.), dev, requires_grad=True)
    v = T(3.0, dev, requires_grad=True)
    y = x * 1
    y.masked_fill_(T([True, False, True, False], dev), v)
    assert y.grad_fn.name() == "MaskedFillBackward1"
    y.sum().backward()
    assert host(x.grad).tolist() == [0.0, 1.0, 0.0, 1.0] and v.grad.item() == 2.0


# ----------------------------------------------------------------- joins, splits and friends
def test_cat_rules(dev):
    a = ag.zeros(2, 3, device=dev)
    assert tuple(ag.cat([a, ag.zeros(0, device=dev)]).shape) == (2, 3)
    assert tuple(ag.cat([ag.zeros(0, device=dev), a], 1).shape) == (2, 3)
    assert ag.cat([ag.zeros(2, dtype=ag.int64, device=dev), ag.zeros(2, device=dev)]).dtype == ag.float32
    assert ag.stack([T(1, dev), T(2.0, dev)]).dtype == ag.float32
    assert [tuple(c.shape) for c in ag.zeros(5, device=dev).chunk(4)] == [(2,), (2,), (1,)]
    assert [tuple(c.shape) for c in ag.zeros(0, device=dev).chunk(3)] == [(0,)] * 3
    assert len(ag.zeros(3, device=dev).split(10)) == 1


def test_nonzero(dev):
    a = T([[0.0, 1.0], [2.0, 0.0]], dev)
    assert host(ag.nonzero(a)).tolist() == [[0, 1], [1, 0]] and ag.nonzero(a).dtype == ag.int64
    rows, cols = ag.nonzero(a, as_tuple=True)
    assert host(rows).tolist() == [0, 1] and host(cols).tolist() == [1, 0]
    assert tuple(ag.nonzero(T(5.0, dev)).shape) == (1, 0) and tuple(ag.nonzero(T(0.0, dev)).shape) == (0, 0)
    assert [host(t).tolist() for t in ag.nonzero(T(5.0, dev), as_tuple=True)] == [[0]]
    assert tuple(ag.argwhere(a > 5).shape) == (0, 2)


# ----------------------------------------------------------------- errors: PyTorch's types and wording
ERRORS = [
    (lambda x: x[5], IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: x[0, 10], IndexError,
     "index 10 is out of bounds for dimension 1 with size 4"),
    (lambda x: x[None, 0, 10], IndexError,
     "index 10 is out of bounds for dimension 2 with size 4"),
    (lambda x: x[ag.tensor([0, 5])], IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: x[:, ag.tensor([0, 7])], IndexError,
     "index 7 is out of bounds for dimension 0 with size 4"),
    (lambda x: x[[0, -4]], IndexError,
     "index -4 is out of bounds for dimension 0 with size 3"),
    (lambda x: x[::-1], ValueError,
     "step must be greater than zero"),
    (lambda x: x[::0], ValueError,
     "slice step cannot be zero"),
    (lambda x: x[ag.tensor([1.0])], IndexError,
     "tensors used as indices must be long, int, byte or bool tensors"),
    (lambda x: x[1.5], IndexError,
     "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices "
     "(got float)"),
    (lambda x: x[0, 0, 0, 0], IndexError,
     "too many indices for tensor of dimension 3"),
    (lambda x: x[0][0][0][0], IndexError,
     "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to "
     "convert a 0-dim tensor to a number"),
    (lambda x: x[ag.ones(3, 5, dtype=ag.bool)], IndexError,
     "The shape of the mask [3, 5] at index 1 does not match the shape of the indexed tensor [3, 4, 5] "
     "at index 1"),
    (lambda x: x[ag.tensor([0, 1]), ag.tensor([0, 1, 2])], IndexError,
     "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]"),
    (lambda x: ag.cat([]), ValueError,
     "torch.cat(): expected a non-empty list of Tensors"),
    (lambda x: ag.cat([x[0, 0, 0], x[0, 0, 0]]), RuntimeError,
     "zero-dimensional tensor (at position 0) cannot be concatenated"),
    (lambda x: ag.cat([x[0], x[0, :, :2]]), RuntimeError,
     "Sizes of tensors must match except in dimension 0. Expected size 5 but got size 2 for tensor "
     "number 1 in the list."),
    (lambda x: ag.cat([x, x[0]]), RuntimeError,
     "Tensors must have same number of dimensions: got 3 and 2"),
    (lambda x: ag.cat(x), TypeError,
     "cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"),
    (lambda x: ag.stack([]), RuntimeError,
     "stack expects a non-empty TensorList"),
    (lambda x: ag.stack([x[0, 0], x[0]]), RuntimeError,
     "stack expects each tensor to be equal size, but got [5] at entry 0 and [4, 5] at entry 1"),
    (lambda x: x.split([1, 1]), RuntimeError,
     "split_with_sizes expects split_sizes to sum exactly to 3 (input tensor's size at dimension 0), but "
     "got split_sizes=[1, 1]"),
    (lambda x: x.split(0), RuntimeError,
     "split_size can only be 0 if dimension size is 0, but got dimension size of 3"),
    (lambda x: x.chunk(0), RuntimeError,
     "chunk expects `chunks` to be greater than 0, got: 0"),
    (lambda x: x[0, 0, 0].unbind(), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    (lambda x: x.flip(0, 0), RuntimeError,
     "dim 0 appears multiple times in the list of dims"),
    (lambda x: x[0, 0].tril(), RuntimeError,
     "tril: input tensor must have at least 2 dimensions"),
    (lambda x: x.narrow(0, 4, 1), IndexError,
     "start out of range (expected to be in range of [-3, 3], but got 4)"),
    (lambda x: x.narrow(0, 1, 3), RuntimeError,
     "start (1) + length (3) exceeds dimension size (3)."),
    (lambda x: x.movedim((0, 0), (1, 2)), RuntimeError,
     "movedim: repeated dim in `source` ([0, 0])"),
    (lambda x: x.roll((1, 2), 0), RuntimeError,
     "shifts and dimensions must align. shifts: 2, dims:1"),
    (lambda x: x.repeat(2, 2), RuntimeError,
     "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"),
    (lambda x: x.select(0, 5), IndexError,
     "select(): index 5 out of range for tensor of size [3, 4, 5] at dimension 0"),
    (lambda x: x.gather(0, ag.zeros(2, 2, dtype=ag.int64)), RuntimeError,
     "Index tensor must have the same number of dimensions as input tensor"),
    (lambda x: x.gather(0, ag.full((2, 2, 2), 5)), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: x.gather(0, ag.full((2, 2, 2), -1)), RuntimeError,
     "index -1 is out of bounds for dimension 0 with size 3"),
    (lambda x: x.gather(0, ag.zeros(2, 5, 2, dtype=ag.int64)), RuntimeError,
     "Size does not match at dimension 1 expected index [2, 5, 2] to be no larger than self [3, 4, 5] "
     "apart from dimension 0"),
    (lambda x: x.gather(0, ag.zeros(2, 2, 2)), RuntimeError,
     "gather(): Expected dtype int32/int64 for index"),
    (lambda x: x.scatter(0, ag.zeros(2, 2, 2, dtype=ag.int64), ag.zeros(2, 2, 1)), RuntimeError,
     "Expected index [2, 2, 2] to be no larger than self [3, 4, 5] apart from dimension 0 and to be no "
     "larger size than src [2, 2, 1]"),
    (lambda x: x.scatter_add(0, ag.zeros(1, 1, 1, dtype=ag.int64), x.double()), RuntimeError,
     "scatter(): Expected self.dtype to be equal to src.dtype"),
    (lambda x: x.index_select(0, ag.zeros(2, 2, dtype=ag.int64)), IndexError,
     "index_select(): Index is supposed to be a vector"),
    (lambda x: x.index_select(0, ag.tensor([-1])), IndexError,
     "index out of range in self"),
    (lambda x: x.masked_fill(ag.zeros(5), 1.0), RuntimeError,
     "masked_fill_ only supports boolean masks, but got mask with dtype float"),
    (lambda x: x.masked_fill(x > 0, ag.tensor([1.0])), RuntimeError,
     "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 dimension(s)."),
    (lambda x: x.masked_fill(ag.ones(4, dtype=ag.bool), 1.0), RuntimeError,
     "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 2"),
    (lambda x: x.masked_select(ag.ones(5)), RuntimeError,
     "masked_select: expected BoolTensor for mask"),
    (lambda x: x.index_add(0, ag.tensor([0, 0]), ag.ones(3, 4, 5)), RuntimeError,
     "index_add_(): Number of indices (2) should be equal to source.size(dim): (3), for dim: 0"),
    (lambda x: ag.take_along_dim(x, ag.zeros(2, 2, dtype=ag.int64), 0), RuntimeError,
     "torch.take_along_dim(): input and indices should have the same number of dimensions, but got 3 "
     "dimensions for input, and 2 dimensions for indices"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors(case, dev):
    fn, exc, msg = ERRORS[case]
    x = T(np.arange(60.).reshape(3, 4, 5), dev, dtype=ag.float32)
    with ag.no_grad():
        with pytest.raises(exc) as info:
            _on(fn, x, dev)
    assert str(info.value) == msg


def _on(fn, x, dev):
    """Run fn with the tensors it makes through ag.zeros/ones/full/tensor placed on ``dev``."""
    names = ("zeros", "ones", "full", "tensor")
    orig = {n: getattr(ag, n) for n in names}
    try:
        for n, f in orig.items():
            setattr(ag, n, lambda *a, _f=f, **k: _f(*a, **{"device": dev, **k}))
        return fn(x)
    finally:
        for n, f in orig.items():
            setattr(ag, n, f)


@pytest.mark.parametrize("name,f", [
    ("getitem", lambda x, i, m: x[i]),
    ("gather", lambda x, i, m: x.gather(0, i)),
    ("index_select", lambda x, i, m: x.index_select(0, i)),
    ("embedding", lambda x, i, m: ag.nn.functional.embedding(i, x.reshape(5, 1)).reshape(-1)),
    ("scatter_add", lambda x, i, m: ag.zeros(5).scatter_add(0, i, x[:2])),
    ("index_add", lambda x, i, m: ag.zeros(5).index_add(0, i, x[:2])),
    ("masked_fill", lambda x, i, m: x.masked_fill(m, 0.0)),
    ("masked_select", lambda x, i, m: x.masked_select(m)),
    ("getitem_mask", lambda x, i, m: x[m]),
])
def test_index_changed_in_place_after_the_op_keeps_the_forward_gradient(name, f):
    """An op keeps the indices (and masks) its forward used: changing the index tensor in place before
    backward can't silently change the gradient (PyTorch refuses with its version error instead)."""
    x = ag.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    idx = ag.tensor([0, 1])
    mask = ag.tensor([True, True, False, False, False])
    y = f(x, idx, mask)
    w = ag.arange(1.0, y.numel() + 1).reshape(y.shape)
    idx[0] = 4
    mask[4] = True
    (y * w).sum().backward()
    expected = {"masked_fill": [0.0, 0.0, 3.0, 4.0, 5.0]}.get(name, [1.0, 2.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_loss_target_changed_in_place_after_the_loss_keeps_the_forward_gradient(loss):
    x = ag.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], dtype=ag.float64, requires_grad=True)
    target = ag.tensor([2, 0])
    (expected,) = ag.autograd.grad(getattr(ag.nn.functional, loss)(x, target), [x])
    out = getattr(ag.nn.functional, loss)(x, target)
    target[0] = 1
    (got,) = ag.autograd.grad(out, [x])
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
