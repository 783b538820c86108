"""The C fast path (csrc/, module autograd_gpu._fastpath: Tensor._make, Op.apply, Op._record, the optimizer's
Tensor methods, backward()'s loop) against its Python reference.

Every registered op's forward is recorded twice, by the C function and by Op._record on a twin node, and the
two must leave the same graph state; and run through the C and the Python Op.apply, with the same outputs; the
Tensor methods against the Python ones they replace. The rest of the suite (every backward() included) runs on
whichever is bound (C when it was built); test_pure_python_fallback runs the engine's tests once more on the
Python functions alone.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd import node as node_mod
from autograd_gpu.autograd.node import Op
from autograd_gpu.testing.registry import all_ops, make_inputs

from conftest import DEVICES

HERE = os.path.dirname(os.path.abspath(__file__))
fastpath = sys.modules["autograd_gpu.tensor"]._fastpath
needs_fastpath = pytest.mark.skipif(fastpath is None, reason="the C fast path is not built (or is switched off)")


def test_fastpath_is_bound_where_required():
    """.ci/run installs with a C compiler present and sets AUTOGRAD_GPU_REQUIRE_FASTPATH: there the suite must
    be running on the C functions, not silently on the fallback."""
    if not os.environ.get("AUTOGRAD_GPU_REQUIRE_FASTPATH"):
        pytest.skip("AUTOGRAD_GPU_REQUIRE_FASTPATH is not set")
    assert fastpath is not None
    assert node_mod._record is fastpath.record
    assert ag.Tensor._make is fastpath.make
    assert Op.__dict__["apply"].__func__ is fastpath.apply
    assert type(ag.Tensor.__isub__).__name__ == "method_descriptor"  # (the optimizer's methods: _methods.py)
    from autograd_gpu.autograd import engine
    assert engine._drain is fastpath.drain


def _graph_state(node, res):
    """Everything recording sets on a node and its output (identities where the objects must be shared)."""
    result = node._result
    data = res._data
    return {
        "edges": tuple((None if fn is None else id(fn), nr) for fn, nr in node.next_functions),
        "needs": node.needs_input_grad,
        "meta": node._input_meta,
        "saved": tuple(id(t) for t in node._saved),
        "versions": node._saved_versions if node._saved else None,
        "released": node._released,
        "result": None if result is None else (id(result[0]), result[1] is res._version, result[2]),
        "node_dict": sorted(vars(node)),
        "out": (type(res), type(data), data.dtype, data.shape, data.tobytes(), res._device, res._requires_grad,
                res.grad_fn is node, res._output_nr, res._version[0], res._is_inference, sorted(vars(res))),
    }


class _TwinRecorder:
    """Stands in for node._record: records each node with the Python reference on a twin (same class, device
    and forward-set attributes), then with the C function, and keeps both for comparison."""

    def __init__(self):
        self.pairs = []

    def __call__(self, node, inputs, out):
        twin = object.__new__(type(node))
        twin.dev = node.dev
        twin.__dict__.update(vars(node))  # what forward stored (target, probs, ...)
        ref = Op._record(twin, inputs, out)
        res = fastpath.record(node, inputs, out)
        if not isinstance(res, tuple):  # (states taken now: a view op's caller then sets _base on its output)
            self.pairs.append((twin._seq, _graph_state(twin, ref), node._seq, _graph_state(node, res),
                               type(node).__name__))
        return res


def _sample_cases():
    cases = []
    for info in all_ops():
        if "cpu" not in info.devices or info.skip_reason:
            continue
        for i, sample in enumerate(info.samples):
            cases.append(pytest.param(info, sample, id=f"{info.name}-{sample.name or i}"))
    return cases


@needs_fastpath
@pytest.mark.parametrize("info,sample", _sample_cases())
def test_record_matches_python_reference(info, sample, monkeypatch):
    recorder = _TwinRecorder()
    monkeypatch.setattr(node_mod, "_record", recorder)
    monkeypatch.setattr(Op, "apply", node_mod._python_apply)  # (the C apply calls the C record directly)
    dtype = "float64" if "float64" in info.dtypes else info.dtypes[0]
    args, _, kw, _ = make_inputs(sample, info, "cpu", dtype, np.random.default_rng(0),
                                 requires_grad=bool(info.grad and sample.grad))
    info.fn(*args, **kw)
    for twin_seq, expected, seq, state, name in recorder.pairs:
        assert seq == twin_seq + 1, name  # (the twin took the sequence number before it)
        assert state == expected, name


def _outputs_state(out):
    """An op's outputs: values, flags and the graph one level down (node types, edges' node types)."""
    outs = out if isinstance(out, tuple) else (out,)
    state = []
    for o in outs:
        if not isinstance(o, ag.Tensor):
            state.append(repr(o))
            continue
        fn = o.grad_fn
        state.append((type(o._data), o._data.dtype, o._data.shape, o._data.tobytes(), o._device, o._requires_grad,
                      o._output_nr, o._version[0], o._is_inference,
                      None if fn is None else (type(fn).__name__, fn.needs_input_grad, fn._input_meta,
                                               tuple((type(c).__name__, nr) for c, nr in fn.next_functions))))
    return state


@needs_fastpath
@pytest.mark.parametrize("info,sample", _sample_cases())
def test_apply_matches_python_reference(info, sample, monkeypatch):
    """Each registered op's forward through the C Op.apply and through the Python one: same outputs, same
    flags, same nodes and edges (requires_grad inputs; the same random state for ops that draw numbers)."""
    dtype = "float64" if "float64" in info.dtypes else info.dtypes[0]
    results = []
    for python in (False, True):
        if python:
            monkeypatch.setattr(Op, "apply", node_mod._python_apply)
            monkeypatch.setattr(node_mod, "_record", Op._record)
        args, _, kw, _ = make_inputs(sample, info, "cpu", dtype, np.random.default_rng(0),
                                     requires_grad=bool(info.grad and sample.grad))
        ag.manual_seed(0)
        results.append(_outputs_state(info.fn(*args, **kw)))
    assert results[0] == results[1]


@needs_fastpath
def test_apply_raises_as_python_does():
    a, b = ag.ones(2, 3, requires_grad=True), ag.ones(4)
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                                           r"non-singleton dimension 1") as info:
        a + b  # NumPy's ValueError, as PyTorch words it
    assert info.value.__cause__ is None and info.value.__suppress_context__

    class Boom(Op):
        def forward(self, x):
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):  # a ValueError that is not about broadcasting passes through
        Boom.apply(a)
    if "cuda_emulated" in DEVICES:
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            a + ag.ones(2, 3, device="cuda_emulated")


@needs_fastpath
def test_record_covers_leaves_nonleaves_and_constants(monkeypatch):
    """Two- and three-input ops mixing a leaf (its kept accumulator), a non-leaf, and a constant (no edge)."""
    recorder = _TwinRecorder()
    monkeypatch.setattr(node_mod, "_record", recorder)
    monkeypatch.setattr(Op, "apply", node_mod._python_apply)
    w = ag.randn(4, 3, requires_grad=True)
    b = ag.randn(4, requires_grad=True)
    x = ag.randn(2, 3)
    h = ag.nn.functional.linear(x, w, b)       # constant, leaf, leaf
    r = ag.nn.functional.relu(h)               # saves its result
    y = r * ag.randn(4)                        # non-leaf times a constant (broadcast)
    z = y + b                                  # non-leaf plus a leaf whose accumulator exists already
    loss = ag.nn.functional.cross_entropy(z, ag.tensor([1, 3]))
    assert len(recorder.pairs) == 5
    for _, expected, _, state, name in recorder.pairs:
        assert state == expected, name
    loss.backward()  # the C-recorded graph trains as the Python one would
    assert w.grad is not None and b.grad.shape == (4,)


@needs_fastpath
def test_make_matches_python_reference():
    make = fastpath.make
    a = np.arange(3.0)
    t = make(a)
    assert t._data is a and t._device is ag.device("cpu") and t._requires_grad is False
    assert t.grad_fn is None and t._output_nr == 0 and t._version == [0] and not t._is_inference
    s = make(np.float32(2.5))  # NumPy scalars become 0-d arrays
    assert type(s._data) is np.ndarray and s._data.shape == () and s._data.dtype == np.float32
    assert s._data == np.float32(2.5)
    with ag.inference_mode():
        assert make(a)._is_inference is True
    assert make(a)._is_inference is False
    with pytest.raises(TypeError, match=r"from 1 to 5 positional arguments but 0 were given"):
        make()
    with pytest.raises(TypeError, match=r"but 6 were given"):
        make(a, None, False, None, 0, 1)


@needs_fastpath
def test_record_refuses_inference_tensors_as_python_does():
    with ag.inference_mode():
        x = ag.ones(3)
    y = ag.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        x * y  # MulBackward0 saves both inputs


@needs_fastpath
def test_record_hands_other_cases_to_python():
    """Several outputs, or anomaly mode's record hooks: the C function calls Op._record."""
    calls = []
    python_record = Op._record

    def spy(node, inputs, out):
        calls.append(type(node).__name__)
        return python_record(node, inputs, out)

    node_mod.bind_fastpath(ag.Tensor, ag.device("cpu"), python_record=spy)
    try:
        x = ag.randn(3, 4, requires_grad=True)
        x.max(1)                             # two outputs
        (x * 2).sum()                        # common case: not handed over
        assert calls == ["MaxBackward0"]
        with ag.autograd.detect_anomaly():
            (x * 2).sum()
        assert calls[1:] == ["MulBackward0", "SumBackward0"]
    finally:
        node_mod.bind_fastpath(ag.Tensor, ag.device("cpu"))


@needs_fastpath
def test_failed_init_changes_nothing():
    args = [ag.Tensor, int, None, None, None, [0], None, None, None, None, None, [False], None, None]
    with pytest.raises(TypeError, match=r"_fastpath: int._seq is not a slot"):
        fastpath.init(*args)
    x = ag.ones(3, requires_grad=True)
    (x * 3).sum().backward()  # still recording with the bound classes and state
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_recording_leaks_no_references():
    """Reference counts of what recording and the optimizer's methods touch (a constant input and its array, a
    leaf, its accumulator, the shared no-edge tuple, the device) are the same before and after a thousand
    training steps."""
    x = ag.randn(8, 5)
    w = ag.randn(3, 5, requires_grad=True)
    dev = x.device

    def step():
        nonlocal w  # (w -= ... rebinds the name, to the same tensor)
        loss = ag.nn.functional.relu(ag.nn.functional.linear(x, w)).mul(x[:, :3]).sum()
        loss.backward()
        with ag.no_grad():
            w -= 0.01 * w.grad
            w += 0.0
            w *= 1.0
        w.grad = None

    step()
    watched = (x, x._data, w, w._data, w._accum, node_mod._NO_EDGE, dev)
    before = [sys.getrefcount(o) for o in watched]
    for _ in range(1000):
        step()
    assert [sys.getrefcount(o) for o in watched] == before


def _outcome(call, tensors):
    """What call() did: its result (values, dtype, flags, node type) or its exception (type, message), then the
    values, version counters and .grad of the tensors it touched."""
    try:
        r = call()
        res = ("ok", None if r is None else (r._data.dtype, r._data.shape, r._data.tobytes(), r._requires_grad,
                                              type(r.grad_fn).__name__, r._version[0]))
    except Exception as e:  # noqa: BLE001  (the same exception either way is the point)
        res = ("raised", type(e).__name__, str(e))
    return res, [(t._data.tobytes(), t._version[0], None if t._grad is None else t._grad._data.tobytes())
                 for t in tensors]


def _scenario(name, data, other, dtype=ag.float32, requires_grad=False, grad=None, no_grad=True):
    """(method name, run): run(method) calls method(x, other) on fresh tensors and returns _outcome."""
    def run(method):
        x = ag.tensor(data, dtype=dtype, requires_grad=requires_grad)
        if grad is not None:
            x._grad = ag.tensor(grad, dtype=dtype)
        o = other() if callable(other) else other
        mode = ag.no_grad() if no_grad else ag.enable_grad()
        fn = (lambda: method(x)) if name == "grad_get" else lambda: method(x, o)

        def call():
            with mode:
                return fn()
        return _outcome(call, [x] + ([o] if isinstance(o, ag.Tensor) else []))
    return name, run


def _f32(values):
    return lambda: ag.tensor(values, dtype=ag.float32)


METHOD_SCENARIOS = {
    "rmul-float": _scenario("__rmul__", [1.0, -2.0, 3.0], 0.5, no_grad=False),
    "rmul-float-requires-grad": _scenario("__rmul__", [1.0, -2.0, 3.0], 0.5, requires_grad=True, no_grad=False),
    "rmul-int": _scenario("__rmul__", [1.0, -2.0, 3.0], 3, no_grad=False),
    "rmul-float-int-tensor": _scenario("__rmul__", [1, 2, 3], 0.5, dtype=ag.int64, no_grad=False),
    "rmul-float-nan": _scenario("__rmul__", [1.0, -2.0, 3.0], float("nan"), no_grad=False),
    "isub-float": _scenario("__isub__", [1.0, -2.0, 3.0], 0.25, requires_grad=True),
    "isub-int": _scenario("__isub__", [1.0, -2.0, 3.0], 2, requires_grad=True),
    "isub-tensor": _scenario("__isub__", [1.0, -2.0, 3.0], _f32([0.5, 0.5, 0.5]), requires_grad=True),
    "isub-tensor-other-dtype": _scenario("__isub__", [1.0, -2.0, 3.0], lambda: ag.tensor([0.5, 0.5, 0.5]),
                                         requires_grad=True),
    "isub-tensor-broadcast": _scenario("__isub__", [1.0, -2.0, 3.0], _f32([0.5]), requires_grad=True),
    "isub-tensor-bad-shape": _scenario("__isub__", [1.0, -2.0, 3.0], _f32([0.5, 1.0]), requires_grad=True),
    "isub-int-tensor": _scenario("__isub__", [1, 2, 3], 1, dtype=ag.int64),
    "isub-leaf-grad-mode": _scenario("__isub__", [1.0, -2.0, 3.0], 0.25, requires_grad=True, no_grad=False),
    "isub-plain-grad-mode": _scenario("__isub__", [1.0, -2.0, 3.0], 0.25, no_grad=False),
    "isub-bool": _scenario("__isub__", [1.0, -2.0, 3.0], True),
    "iadd-float": _scenario("__iadd__", [1.0, -2.0, 3.0], 0.25, requires_grad=True),
    "iadd-tensor": _scenario("__iadd__", [1.0, -2.0, 3.0], _f32([1.0, 1.0, 1.0])),
    "imul-float": _scenario("__imul__", [1.0, -2.0, 3.0], 0.5, requires_grad=True),
    "imul-int-tensor": _scenario("__imul__", [1, 2, 3], 2, dtype=ag.int64),
    "grad-get-leaf": _scenario("grad_get", [1.0, 2.0], None, requires_grad=True, grad=[1.0, 1.0]),
    "grad-get-none": _scenario("grad_get", [1.0, 2.0], None, requires_grad=True),
    "grad-set-none": _scenario("grad_set", [1.0, 2.0], None, requires_grad=True, grad=[1.0, 1.0]),
    "grad-set-tensor": _scenario("grad_set", [1.0, 2.0], _f32([2.0, 2.0]), requires_grad=True),
    "grad-set-wrong-dtype": _scenario("grad_set", [1.0, 2.0], lambda: ag.tensor([2.0, 2.0]), requires_grad=True),
    "grad-set-wrong-shape": _scenario("grad_set", [1.0, 2.0], _f32([2.0]), requires_grad=True),
}


@needs_fastpath
@pytest.mark.parametrize("scenario", list(METHOD_SCENARIOS))
def test_methods_match_python_reference(scenario):
    """The C Tensor methods (rmul, +=, -=, *=, .grad get/set) against the Python methods they replace: the same
    result or the same exception, the same values, version counters and .grad afterwards."""
    from autograd_gpu._methods import python_methods
    name, run = METHOD_SCENARIOS[scenario]
    grad = ag.Tensor.grad
    c_method = {"grad_get": grad.fget, "grad_set": grad.fset}.get(name) or getattr(ag.Tensor, name)
    assert c_method is not python_methods[name]
    assert run(c_method) == run(python_methods[name])


def test_nonleaf_grad_warns_through_the_c_getter():
    y = ag.ones(2, requires_grad=True) * 2
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert y.grad is None


@needs_fastpath
def test_drain_restores_state_after_an_error():
    """backward()'s C loop puts the grad mode and NumPy's error state back when a backward raises, and raises
    PyTorch's error on a second backward through a freed graph."""
    x = ag.ones(3, requires_grad=True)
    y = (x * 2).sum()
    y.grad_fn.register_hook(lambda gi, go: 1 / 0)
    before = np.geterr()
    with pytest.raises(ZeroDivisionError):
        y.backward()
    assert ag.is_grad_enabled() and np.geterr() == before
    z = (x * x).sum()  # (MulBackward0 saves both inputs: released after the first backward)
    z.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        z.backward()
    assert ag.is_grad_enabled() and np.geterr() == before
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_op_classes_may_not_shadow_recorded_slots():
    with pytest.raises(TypeError, match=r"Bad defines _saved: node slots that recording writes"):
        class Bad(Op):
            _saved = ()


def test_pure_python_fallback():
    """The engine, hooks, memory and tutorial tests on the Python functions alone (a machine without a C
    compiler at install time runs this way)."""
    env = dict(os.environ, AUTOGRAD_GPU_PURE_PYTHON="1", AUTOGRAD_GPU_TEST_DEVICES="cpu")
    env.pop("AUTOGRAD_GPU_REQUIRE_FASTPATH", None)
    probe = subprocess.run([sys.executable, "-c", "import autograd_gpu.autograd.node as n; "
                            "print(n._record is n.Op._record)"], env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == "True", probe.stderr
    files = [os.path.join(HERE, f) for f in ("test_engine.py", "test_hooks.py", "test_memory.py",
                                             "test_tutorial.py", "test_inplace.py")]
    r = subprocess.run([sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
                       env=env, capture_output=True, text=True, cwd=os.path.dirname(HERE))
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert " passed" in r.stdout
