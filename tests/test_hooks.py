"""Backward hooks (tensor, post-accumulate, node pre/post) and saved-tensor hooks, with PyTorch's order and
semantics ("Backward Hooks execution" in PyTorch's autograd notes). Expected values are closed forms; the
hook order below is what PyTorch 2.13 logs for the same program."""
import threading

import numpy as np
import pytest

import autograd_gpu as torch
from autograd_gpu.autograd.graph import (disable_saved_tensors_hooks, get_gradient_edge, increment_version,
                                         save_on_cpu, saved_tensors_hooks)

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _t(values, device, **kw):
    return torch.tensor(values, dtype=torch.float64, device=device, **kw)


def test_hook_order_matches_pytorch(device):
    log = []
    x = _t([1., 2.], device, requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = y * 3
    y.register_hook(lambda g: (log.append(("tensor_hook1", g.tolist())), g * 10)[1])
    y.grad_fn.register_prehook(lambda go: (log.append(("node_prehook", go[0].tolist())), (go[0] + 1,))[1])
    y.grad_fn.register_hook(lambda gi, go: log.append(("node_posthook", gi[0].tolist(), go[0].tolist())))
    y.register_hook(lambda g: (log.append(("tensor_hook2", g.tolist())), g)[1])
    x.register_hook(lambda g: (log.append(("leaf_hook", g.tolist())), g + 100)[1])
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post_acc", t.grad.tolist())))
    acc = y.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda go: log.append(("acc_prehook", go[0].tolist())))
    acc.register_hook(lambda gi, go: log.append(("acc_posthook", gi, go[0].tolist())))
    z.sum().backward()
    assert log == [("tensor_hook1", [3.0, 3.0]), ("tensor_hook2", [30.0, 30.0]),
                   ("node_prehook", [30.0, 30.0]),
                   ("node_posthook", [62.0, 62.0], [31.0, 31.0]), ("leaf_hook", [62.0, 62.0]),
                   ("acc_prehook", [162.0, 162.0]), ("post_acc", [162.0, 162.0]),
                   ("acc_posthook", (), [162.0, 162.0])]
    assert y.grad.tolist() == [30.0, 30.0]  # retain_grad sees the tensor hooks' result, not the pre-hook's
    assert x.grad.tolist() == [162.0, 162.0]


def test_leaf_hook_runs_before_accumulation_and_for_grad(device):
    x = _t([1., 2., 3.], device, requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: (seen.append(g.tolist()), g * 2)[1])
    (x * x).sum().backward()
    assert x.grad.tolist() == [4., 8., 12.]  # 2x doubled before it was accumulated
    g, = torch.autograd.grad((x * 3).sum(), x)  # tensor hooks also apply to what grad() returns
    assert g.tolist() == [6., 6., 6.]
    h.remove()
    g, = torch.autograd.grad((x * 3).sum(), x)
    assert g.tolist() == [3., 3., 3.]
    assert len(seen) == 2


def test_hook_registered_after_graph_was_built(device):
    x = _t([1., 2.], device, requires_grad=True)
    y = (x * 5).sum()  # AccumulateGrad of x exists already
    x.register_hook(lambda g: g + 1)
    y.backward()
    assert x.grad.tolist() == [6., 6.]


def test_nonleaf_hook_replaces_gradient_upstream(device):
    x = _t([1., 2.], device, requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g: g * 0 + 1)  # pretend dL/dy = 1
    (y * 7).sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), np.exp([1., 2.]))


def test_hook_handles_and_context_manager(device):
    x = _t([1.], device, requires_grad=True)
    calls = []
    with x.register_hook(lambda g: calls.append(1)) as h:
        (x * 1).sum().backward()
    (x * 1).sum().backward()
    assert calls == [1]
    h.remove()  # removing twice is harmless
    a, b = x.register_hook(lambda g: None), x.register_hook(lambda g: None)
    assert b.id > a.id


def test_hooks_run_in_registration_order_and_see_earlier_changes(device):
    x = _t([1.], device, requires_grad=True)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 1).sum().backward()
    assert x.grad.tolist() == [20.]


def test_tensor_hook_errors(device):
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor "
                                           "that doesn't require gradient"):
        _t([1.], device).register_hook(lambda g: g)
    x = _t([1., 2.], device, requires_grad=True)
    h = x.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the size of value"):
        (x * 2).sum().backward()
    h.remove()

    def to_float(g):
        return g.float()
    h = x.register_hook(to_float)
    with pytest.raises(RuntimeError, match=r"hook 'to_float' has changed the type of value \(was "
                                           r"torch\..*DoubleTensor got torch\..*FloatTensor\)"):
        (x * 2).sum().backward()
    h.remove()


def test_post_accumulate_grad_hook(device):
    w = _t([1., 2.], device, requires_grad=True)
    seen = []

    def sgd(p):  # the optimizer-in-backward pattern
        seen.append(p.grad.tolist())
        with torch.no_grad():
            p -= 0.5 * p.grad
        p.grad = None
    w.register_post_accumulate_grad_hook(sgd)
    (w * w).sum().backward()
    assert seen == [[2., 4.]]
    assert w.tolist() == [0., 0.] and w.grad is None
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf "
                                           "tensors"):
        (w * 1).register_post_accumulate_grad_hook(sgd)
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor "
                                           "that doesn't require gradient"):
        _t([1.], device).register_post_accumulate_grad_hook(sgd)


def test_node_prehook_and_posthook_replace_gradients(device):
    x = _t([1., 2.], device, requires_grad=True)
    y = x * x
    y.grad_fn.register_prehook(lambda go: (go[0] * 3,))
    (y.sum()).backward()
    assert x.grad.tolist() == [6., 12.]
    x.grad = None
    y = x * x
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 5, gi[1] * 0))
    y.sum().backward()
    assert x.grad.tolist() == [5., 5.]


def test_node_prehook_does_not_run_for_a_node_grad_stops_at(device):
    x = _t([1., 2.], device, requires_grad=True)
    y = x * 2
    calls = []
    y.grad_fn.register_prehook(lambda go: calls.append("pre"))
    y.register_hook(lambda g: calls.append("tensor"))
    g, = torch.autograd.grad((y * 3).sum(), y)
    assert g.tolist() == [3., 3.] and calls == ["tensor"]


def test_node_metadata_and_gradient_edge(device):
    x = _t([1.], device, requires_grad=True)
    y = x * 2
    y.grad_fn.metadata["tag"] = 1
    assert y.grad_fn.metadata == {"tag": 1}
    assert isinstance(y.grad_fn, torch.autograd.graph.Node)
    edge = get_gradient_edge(y)
    assert edge.node is y.grad_fn and edge.output_nr == 0
    assert get_gradient_edge(x).node is y.grad_fn.next_functions[0][0]
    with pytest.raises(RuntimeError, match="not possible to get the gradient edge"):
        get_gradient_edge(_t([1.], device))
    v = x._version[0]
    increment_version(x)
    assert x._version[0] == v + 1


# --- saved-tensor hooks ------------------------------------------------------------------------------------

def test_saved_tensors_hooks_pack_unpack(device):
    a = _t([1., 2., 3.], device, requires_grad=True)
    b = a * 1
    packed = []

    def pack(t):
        packed.append(t)
        return t.detach().clone()

    def unpack(t):
        return t
    with saved_tensors_hooks(pack, unpack):
        y = b.exp()  # saves its output
        z = b * b    # saves both inputs
    assert len(packed) == 3
    assert packed[1] is b and packed[2] is b
    (y.sum() + z.sum()).backward()
    np.testing.assert_allclose(a.grad.tolist(), np.exp([1., 2., 3.]) + 2 * np.array([1., 2., 3.]))


def test_saved_tensors_hooks_keep_double_backward(device):
    x = _t([1., 2., 3.], device, requires_grad=True)
    with saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
        y = (x * x * x).sum()
    g, = torch.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [3., 12., 27.]
    gg, = torch.autograd.grad(g.sum(), x)
    assert gg.tolist() == [6., 12., 18.]


def test_saved_tensors_hooks_innermost_wins_and_unpack_type():
    x = torch.tensor([1., 2.], requires_grad=True)
    outer, inner = [], []
    with saved_tensors_hooks(lambda t: outer.append(1) or t, lambda t: t):
        with saved_tensors_hooks(lambda t: inner.append(1) or t, lambda t: 3):
            y = x * x
        z = x * x
    assert len(inner) == 2 and len(outer) == 2
    with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor"):
        y.sum().backward()
    z.sum().backward()
    assert x.grad.tolist() == [2., 4.]


def test_saved_tensors_hooks_are_thread_local():
    x = torch.tensor([1., 2.], requires_grad=True)
    counts = []

    def other():
        with saved_tensors_hooks(lambda t: counts.append(1) or t, lambda t: t):
            ev.wait(5)
    ev = threading.Event()
    th = threading.Thread(target=other)
    th.start()
    try:
        (x * x).sum().backward()  # this thread has no hooks
    finally:
        ev.set()
        th.join()
    assert counts == []


def test_disable_saved_tensors_hooks():
    with disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        pass


def test_save_on_cpu(device):
    x = _t([[1., 2.], [3., 4.]], device, requires_grad=True)
    w = _t([[0.5], [-1.]], device, requires_grad=True)
    ref = (x.mm(w).sigmoid() * x.sum()).sum()
    ref.backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    with save_on_cpu():
        out = (x.mm(w).sigmoid() * x.sum()).sum()
    node = out.grad_fn
    stack, packed = [node], []
    while stack:  # every saved value of the graph now lives in host memory
        n = stack.pop()
        saved = getattr(n, "_saved", ())
        if saved and not isinstance(saved, tuple):
            packed += [e[0][1] for e in saved.entries if e is not None]
        stack += [c for c, _ in n.next_functions if c is not None]
    assert packed and all(str(t.device) == "cpu" for t in packed)
    out.backward()
    np.testing.assert_allclose(x.grad.tolist(), gx.tolist())
    np.testing.assert_allclose(w.grad.tolist(), gw.tolist())
    assert str(x.grad.device).startswith(device)


def test_node_hook_must_return_one_value_per_gradient():
    x = _t([1., 2.], "cpu", requires_grad=True)
    y = x * x
    y.grad_fn.register_hook(lambda gi, go: (gi[0],))
    with pytest.raises(RuntimeError, match=r"hook '<lambda>' has returned an incorrect number of values "
                                           r"\(got 1, "
                                           r"but expected 2\)"):
        y.sum().backward()
