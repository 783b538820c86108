"""The backward engine: iterative, newest node first (Chainer-style heap on sequence numbers; dependency
counts only where grad()/inputs= prune the graph to the paths that reach their targets).

No recursion (a 100,000-node chain is fine); gradients summed back over broadcast dimensions and cast to
the input dtype here, once, for every op; saved values released as each node finishes unless retain_graph.
"""
from __future__ import annotations

import heapq
import sys
import threading

import numpy as _np

from ..backend.fp import quiet_enter as _quiet_enter, quiet_exit as _quiet_exit
from .grad_mode import state as _grad_state
from . import node as _node
from .node import RELEASED_MSG, AccumulateGrad, _anomaly_enabled, edge_of


def _tensor_cls():
    return _node.Tensor  # bound by tensor.py (see node.Tensor)


def _make_root_grads(outputs, grad_outputs, create_graph, api):
    Tensor = _tensor_cls()
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._requires_grad:
                if out._data.size != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                if out._data.dtype.kind != "f":
                    raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got "
                                       f"{out.dtype}")
                g = Tensor._make(out._device.xp.ones_like(out._data), out._device)
        else:
            if not isinstance(g, Tensor):
                import numpy as np
                g = Tensor._make(out._device.xp.asarray(np.asarray(g), dtype=out._data.dtype), out._device)
            if g._data.shape != out._data.shape:
                from ..tensor import Size
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{Size(g._data.shape)} and output[{i}] has a shape of "
                                   f"{Size(out._data.shape)}.")
            if g._device is not out._device:
                raise RuntimeError(f"invalid gradient at index {i} - expected device {out._device} but got "
                                   f"{g._device}")
        grads.append(g)
    return grads


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None) -> None:
    """torch.autograd.backward: accumulate gradients of ``tensors`` into leaves' ``.grad``."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grad_tensors)} gradients")
    inputs = _as_tuple(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(tensors):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    grads = _make_root_grads(tensors, grad_tensors, create_graph, "backward")
    roots = [edge_of(t) for t in tensors]
    targets = None
    if inputs is not None:
        targets = []
        for t in inputs:
            if not t._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        for t in inputs:
            if t.grad_fn is not None:
                t.retain_grad()  # as PyTorch: a non-leaf input gets .grad populated, now and later
            targets.append(t)
    if create_graph and not _warned_create_graph[0]:
        _warned_create_graph[0] = True
        import warnings
        warnings.warn("Using backward() with create_graph=True will create a reference cycle between the "
                      "parameter and its gradient which can cause a memory leak. We recommend using "
                      "autograd.grad when creating the graph to avoid this. If you have to use this "
                      "function, make sure to reset the .grad fields of your parameters to None after use "
                      "to break the cycle and avoid the leak.",
                      UserWarning, stacklevel=3)
    run(roots, grads, retain_graph, create_graph, targets=targets, accumulate=True)


_warned_create_graph = [False]  # PyTorch warns once per process (TORCH_WARN_ONCE)


def backward_scalar(t, retain_graph=None) -> None:
    """``t.backward()`` with no arguments (the common call): backward() without its argument handling."""
    if not t._requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    d = t._data
    if d.size != 1:
        raise RuntimeError("grad can be implicitly created only for scalar outputs")
    if d.dtype.kind != "f":
        raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
    dev = t._device
    xp = dev.xp
    one = xp.array(1, d.dtype) if not d.shape else xp.ones(d.shape, d.dtype)  # (np.ones: a Python wrapper)
    fn = t.grad_fn
    if fn is not None and fn._n_out == 1 and not _node._fw_enabled[0]:  # the common root, buffered here
        _drain({fn: one}, [(-fn._seq, id(fn), fn)], bool(retain_graph), False)  # (as an array: see _drain)
    else:
        _run_all([edge_of(t)], [_node.Tensor._make(one, dev)], bool(retain_graph), False)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """torch.autograd.grad: return d(outputs)/d(inputs) · grad_outputs without touching ``.grad``."""
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_outputs has {len(grad_outputs)} elements but outputs has {len(outputs)}")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    for t in inputs_t:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _make_root_grads(outputs, grad_outputs, create_graph, "grad")
    roots = [edge_of(t) for t in outputs]
    result = run(roots, grads, retain_graph, create_graph, targets=list(inputs_t), accumulate=False)
    out = []
    for i, (t, g) in enumerate(zip(inputs_t, result)):
        if g is None:
            if materialize_grads:
                from ..tensor import Tensor
                g = Tensor._make(t._device.xp.zeros_like(t._data), t._device)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in "
                                   "the graph. Set allow_unused=True if this is the desired behavior.")
        out.append(g)
    return tuple(out)


def _needed_nodes(root_nodes, target_nodes, deps):
    """Nodes from which some target node is reachable (only these need to run)."""
    counts = dict(deps)
    order, stack = [], [n for n in root_nodes if counts.get(n, 0) == 0]
    seen = set(stack)
    while stack:
        n = stack.pop()
        order.append(n)
        for child, _ in n.next_functions:
            if child is not None:
                counts[child] -= 1
                if counts[child] == 0 and child not in seen:
                    seen.add(child)
                    stack.append(child)
    needed = set()
    for n in reversed(order):
        if n in target_nodes or any(c in needed for c, _ in n.next_functions if c is not None):
            needed.add(n)
    return needed


def run(root_edges, root_grads, retain_graph, create_graph, targets=None, accumulate=True):
    """Propagate ``root_grads`` from ``root_edges`` to the leaves. With ``targets`` (tensors), only the paths
    to them run; with accumulate=False their gradients are returned instead of added to ``.grad``."""
    if targets is None:
        return _run_all(root_edges, root_grads, retain_graph, create_graph)
    # 1. dependency counts over the reachable graph (iterative DFS)
    deps = {}
    root_nodes = []
    for n, _ in root_edges:
        if n is not None and n not in deps:
            deps[n] = 0
            root_nodes.append(n)
    stack = list(root_nodes)
    while stack:
        n = stack.pop()
        for child, _ in n.next_functions:
            if child is not None:
                c = deps.get(child)
                if c is None:
                    deps[child] = 1
                    stack.append(child)
                else:
                    deps[child] = c + 1

    # 2. targets: where to capture gradients, and which nodes need to run at all. A target node whose
    #    backward leads to no other target stops there (``stop``): its gradient is captured (grad) or
    #    stored by retain_grad (backward(inputs=)), and nothing beyond it is computed.
    captured = [None] * len(targets)
    capture = {}
    for i, t in enumerate(targets):
        node, nr = edge_of(t)
        capture.setdefault(node, []).append((nr, i))
    needed = _needed_nodes(root_nodes, capture, deps)
    stop = {n for n in capture if not any(c in needed for c, _ in n.next_functions if c is not None)}
    if accumulate:
        capture = {n: () for n in capture}  # only AccumulateGrad membership matters

    # 3. seed the input buffers of the roots
    buffers = _root_buffers(root_edges, root_grads)[0]
    heap = [(-n._seq, id(n), n) for n in root_nodes if deps[n] == 0]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    prev_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    # backward formulas meet inf / nan at kinks (sqrt'(0) = inf, inf * 0): silent in PyTorch, and one
    # errstate per pass costs less than one per op (CuPy never warns)
    token = _quiet_enter()
    try:
        while heap:
            node = pop(heap)[2]
            grads = buffers.pop(node, None)
            if grads is not None and node._n_out == 1:
                grads = [grads]
            run_it = node in needed
            if run_it and grads is not None:
                grad_inputs = _run_node(node, grads, create_graph, capture, captured, stop)
            else:
                grad_inputs = None
            grads = None
            if not retain_graph and run_it:  # nodes grad() skipped keep their saved values (as in PyTorch)
                node._release()
            if grad_inputs is None:
                for child, nr in node.next_functions:
                    if child is not None:
                        left = deps[child] - 1
                        deps[child] = left
                        if left == 0:
                            push(heap, (-child._seq, id(child), child))
                continue
            for (child, nr), g in zip(node.next_functions, grad_inputs):
                if child is None:
                    continue
                if g is not None:
                    _add_grad(buffers, child, nr, g)
                left = deps[child] - 1
                deps[child] = left
                if left == 0:
                    push(heap, (-child._seq, id(child), child))
            # drop this frame's references to the gradients: AccumulateGrad takes ownership of an array
            # only when nothing else refers to it (see _adopt)
            g = grad_inputs = None
    finally:
        _quiet_exit(token)
        _grad_state.enabled = prev_mode
    return captured


def _add_grad(buffers, node, nr, g):
    """Sum ``g`` into the gradient buffered for output ``nr`` of ``node``. A node with one output (nearly
    all) buffers the gradient itself, a node with several a list with one slot per output."""
    if node._n_out == 1:
        old = buffers.get(node)
        buffers[node] = g if old is None else old + g
    else:
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._n_out
        old = buf[nr]
        buf[nr] = g if old is None else old + g


def _root_buffers(root_edges, root_grads):
    """({root node: its buffered gradient (see _add_grad)}, heap entries for those nodes), the gradients
    reaching one output summed."""
    buffers = {}
    heap = []
    for (n, nr), g in zip(root_edges, root_grads):
        if n is None:
            continue
        if n not in buffers:
            heap.append((-n._seq, id(n), n))
        _add_grad(buffers, n, nr, g)
    return buffers, heap


def _run_all(root_edges, root_grads, retain_graph, create_graph):
    """run() without targets (every backward() without inputs=): nodes in decreasing sequence number.

    A node is created after the nodes that produced its inputs, so every edge points to a smaller sequence
    number: when the pending node with the largest number is taken, everything that feeds it gradient has
    run. That is the order of PyTorch's ready queue (dependency counts, then sequence number) without the
    pass that counts dependencies. A node reached only by None gradients is not run but is still released
    and passes None on, as in run()."""
    if not create_graph and not _node._fw_enabled[0]:  # gradients as arrays (see _drain)
        root_grads = [None if g is None else g._data for g in root_grads]
    buffers, heap = _root_buffers(root_edges, root_grads)
    if len(heap) > 1:
        heapq.heapify(heap)
    _drain(buffers, heap, retain_graph, create_graph)


def _drain(buffers, heap, retain_graph, create_graph):
    """_run_all's loop, from the roots' buffered gradients (see _add_grad) and their heap.

    In the common backward (create_graph=False, no forward-AD level: ``raw``) the gradients travel as raw
    arrays, not Tensors: an op with ``backward_raw`` runs on them directly (no Tensor per gradient, no op
    dispatch), any other node (hooks, retain_grad, custom Functions, several outputs) gets them wrapped for
    _run_node (_run_node_raw), and leaves receive theirs through _accumulate_array. A backward that records a
    graph of itself carries Tensors, and every node goes through _run_node."""
    raw = not create_graph and not _node._fw_enabled[0]
    pop, push = heapq.heappop, heapq.heappush
    prev_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    token = _quiet_enter()  # (see run)
    try:
        while heap:
            node = pop(heap)[2]
            g = buffers.pop(node)  # (a list for a node with several outputs; see _add_grad)
            if node._plain and raw:  # an op node with one output, no hooks, not retained
                if g is None:
                    out = None  # no gradient reached it: nothing to compute (as in run())
                elif node._released or _anomaly_enabled[0]:
                    out = _run_node_raw(node, [g])  # (raises RELEASED_MSG / reports the anomaly)
                else:
                    out = braw(g) if (braw := node.backward_raw) is not None else node._backward_unwrapped(g)
                    if type(out) is not tuple:
                        out = (out,)
                    # the common case inline (as in _checked_grads): every gradient has its input's shape and
                    # dtype (dtype by identity; an equal but distinct descriptor takes _checked_arrays)
                    meta = node._input_meta
                    n = len(meta)
                    if n == 1 and len(out) == 1:
                        d = out[0]
                        if d is not None and (d.shape != meta[0][0] or d.dtype is not meta[0][1]):
                            out = _checked_arrays(node, out)
                    elif n == 2 and len(out) == 2:
                        d, e = out
                        (s0, t0), (s1, t1) = meta
                        if not ((d is None or d.shape == s0 and d.dtype is t0)
                                and (e is None or e.shape == s1 and e.dtype is t1)):
                            out = _checked_arrays(node, out)
                    elif len(out) == n:  # (linear's three inputs)
                        for d, (s0, t0) in zip(out, meta):
                            if d is not None and (d.shape != s0 or d.dtype is not t0):
                                out = _checked_arrays(node, out)
                                break
                    else:
                        out = _checked_arrays(node, out)  # (raises: the wrong number of gradients)
                    d = e = None
            elif type(node) is AccumulateGrad:
                if g is not None:
                    if not raw:
                        grads, g = [g], None  # (the list holds the only reference: see _accumulate)
                        _run_node(node, grads, create_graph, None, None, None)
                    elif node._pre_hooks is not None or node._tensor_hooks is not None \
                            or node._post_hooks is not None:
                        grads, g = [g], None
                        _run_node_raw(node, grads)
                    else:
                        var = node._variable_ref()
                        if var is not None:  # (None: the leaf is gone, and its gradient with it)
                            _accumulate_array(var, g)  # a leaf's gradient: the common end
                g = None
                continue
            else:
                grads = g if node._n_out != 1 else [g]
                g = None
                if all(x is None for x in grads):
                    out = None
                else:
                    out = _run_node_raw(node, grads) if raw else \
                        _run_node(node, grads, create_graph, None, None, None)
                grads = None
            g = None  # (the gradient it received: see the note at the end of the loop)
            if not retain_graph:
                node._release()
            nf = node.next_functions
            for (child, nr), g in zip(nf, out if out is not None else (None,) * len(nf)):
                if child is None:
                    continue
                if child not in buffers:  # the first gradient (or None) for this node: queue it
                    push(heap, (-child._seq, id(child), child))
                    if child._n_out == 1:
                        buffers[child] = g
                        continue
                    buffers[child] = [None] * child._n_out
                if g is not None:
                    if child._n_out == 1:  # (_add_grad's common case inline: this runs for every edge)
                        old = buffers[child]
                        buffers[child] = g if old is None else old + g
                    else:
                        _add_grad(buffers, child, nr, g)
            # drop this frame's references to the gradients: a leaf takes ownership of an array only when
            # nothing else refers to it (see _accumulate_array, _accumulate)
            g = out = old = braw = None
    finally:
        _quiet_exit(token)
        _grad_state.enabled = prev_mode


_drain_py = _drain  # (the Python loop: the reference, and what runs without the C build)


def bind_fastpath(fastpath):
    """backward()'s loop in C (csrc/fastpath_drain.c, the same steps as _drain), with the helpers
    it calls for everything but a plain node and a hook-free leaf."""
    global _drain
    fastpath.init_drain(AccumulateGrad, _anomaly_enabled, heapq.heappush, heapq.heappop, _quiet_enter, _quiet_exit,
                        _run_node_raw, _run_node, _checked_arrays, _accumulate_array, _add_grad)
    _drain = fastpath.drain


def _run_node_raw(node, grads):
    """_run_node for _drain's array mode: the arrays in ``grads`` wrapped as Tensors on the node's output device, the
    gradients it returns unwrapped."""
    make, dev = _node.Tensor._make, node.dev
    tensors = [None if g is None else make(g, dev) for g in grads]
    grads.clear()  # (the caller's list: the arrays are the Tensors' now, see _accumulate)
    result = _run_node(node, tensors, False, None, None, None)
    if result is None:
        return None
    return [None if r is None else r._data for r in result]


def _checked_arrays(node, out):
    """_checked_grads for arrays: aligned with the inputs, each summed back over broadcast dims and cast to its
    input's dtype."""
    meta = node._input_meta
    n = len(meta)
    if len(out) != n:
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients (expected "
                           f"{n}, got {len(out)})")
    result = list(out)
    for i, (d, (shape, dtype)) in enumerate(zip(out, meta)):
        if d is not None:
            result[i] = _fit_array(node, i, d, shape, dtype)
    return result


def _fit_array(node, i, d, shape, dtype):
    """Gradient array ``d`` for input ``i`` of ``node``, summed back over the dims its input was broadcast
    along (SumToSizeBackward0's arithmetic, PyTorch's error when it can't be) and cast to the input's dtype."""
    if d.shape != shape:
        _check_sum_to(d.shape, shape, node, i)
        d = _sum_to_array(d, shape)
    if d.dtype != dtype:
        d = d.astype(dtype)
    return d


def _run_node(node, grads, create_graph, capture, captured, stop):
    """Run one node's backward with hooks; returns gradients aligned with node.next_functions (or None)."""
    if node._tensor_hooks is not None:
        grads = list(grads)
        for nr, hooks in node._tensor_hooks.items():
            if grads[nr] is not None:
                for hook in list(hooks.values()):
                    r = hook(grads[nr])
                    if r is not None:
                        grads[nr] = r
    if node._retained is not None:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr]
                t._grad = (g if create_graph else g.detach()) if t._grad is None else t._grad + g
    if capture is not None and node in capture:
        for nr, i in capture[node]:
            g = grads[nr]
            if g is not None:
                captured[i] = g if captured[i] is None else captured[i] + g
        if node in stop and (capture[node] or not isinstance(node, AccumulateGrad)):
            return None  # grad(): captured, not accumulated; backward(inputs=): non-leaf already retained
    if node._pre_hooks is not None:  # only for nodes that execute (PyTorch: after capture, before the node)
        for hook in list(node._pre_hooks.values()):
            r = hook(tuple(grads))
            if r is not None:
                _check_hook_result(hook, r, len(grads))
                grads = list(r)
    if isinstance(node, AccumulateGrad):
        if capture is None or node in capture:
            var = node.variable
            if var is not None:
                _accumulate(var, grads[0], create_graph)
        if node._post_hooks is not None:  # PyTorch calls them with no grad_inputs
            for hook in list(node._post_hooks.values()):
                hook((), (grads[0],))
        return None
    if node._released:
        raise RuntimeError(RELEASED_MSG)
    if node._out_meta is not None and any(g is None for g in grads):
        xp = node.dev.xp
        grads = [_node.Tensor._make(xp.zeros(s, d), node.dev) if g is None else g
                 for g, (s, d) in zip(grads, node._out_meta)]
    try:
        if node.backward_raw is not None and len(grads) == 1 and not create_graph and not _node._fw_enabled[0]:
            out = _wrap_arrays(node.backward_raw(grads[0]._data), node.dev)
        else:
            out = node.backward(*grads)
    except Exception:
        if _anomaly_enabled[0]:  # show where the failing node was created (autograd.detect_anomaly)
            from .anomaly import print_stack
            print_stack(node)
        raise
    result = _checked_grads(node, out, create_graph)
    if _anomaly_enabled[0]:
        from .anomaly import check_nan
        check_nan(node, result)
    if node._post_hooks is not None:
        for hook in list(node._post_hooks.values()):
            r = hook(tuple(result), tuple(grads))
            if r is not None:
                _check_hook_result(hook, r, len(result))
                result = list(r)
    return result


def _wrap_arrays(out, dev):
    """A backward_raw result as Tensors on ``dev`` (the op's inputs are on its device)."""
    make = _node.Tensor._make
    if type(out) is not tuple:
        return None if out is None else make(out, dev)
    return tuple([None if d is None else make(d, dev) for d in out])


def _checked_grads(node, out, create_graph):
    """A backward's return value as a sequence aligned with the inputs, each gradient summed back over the
    broadcast dims and cast to its input's dtype."""
    if type(out) is not tuple:
        out = (out,)
    meta = node._input_meta  # (one (shape, dtype) per input, as next_functions has one edge per input)
    n = len(meta)
    if len(out) != n:
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients (expected "
                           f"{n}, got {len(out)})")
    # The common case, unrolled for one and two inputs (this runs for every node; a loop over zip costs more
    # than the checks): every gradient already has its input's shape and dtype. dtype by identity (NumPy's
    # descriptors of the built-in types are singletons); an equal but distinct descriptor takes the loop below,
    # which leaves such a gradient as it is.
    if n == 1:
        g = out[0]
        if g is None or (d := g._data).shape == meta[0][0] and d.dtype is meta[0][1]:
            return out
    elif n == 2:
        g, h = out
        (s0, t0), (s1, t1) = meta
        if (g is None or (d := g._data).shape == s0 and d.dtype is t0) and \
                (h is None or (d := h._data).shape == s1 and d.dtype is t1):
            return out
    result = list(out)
    raw = not create_graph and not _node._fw_enabled[0]
    for i, (g, (shape, dtype)) in enumerate(zip(out, node._input_meta)):
        if g is None:
            continue
        d = g._data
        if raw:  # no graph to record: the array form
            if d.shape != shape or d.dtype != dtype:
                g = _node.Tensor._make(_fit_array(node, i, d, shape, dtype), g._device)
        else:
            if d.shape != shape:
                g = _sum_to(g, shape, node, i)
            if g._data.dtype != dtype:
                g = g.to(_np_to_dt(dtype))
        result[i] = g
    return result


def _check_hook_result(hook, r, n):
    if len(r) != n:
        raise RuntimeError(f"hook '{getattr(hook, '__name__', '')}' has returned an incorrect number of values (got "
                           f"{len(r)}, but expected {n})")


def _np_to_dt(np_dtype):
    from .._dtype import from_numpy_dtype
    return from_numpy_dtype(np_dtype)


def _sum_to_array(d, shape):
    """The array d summed over its broadcast dims down to ``shape`` (as SumToSizeBackward0 computes it)."""
    lead = d.ndim - len(shape)
    ds = d.shape
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and ds[lead + i] != 1)
    if axes:
        d = (_add_reduce(d, axis=axes, keepdims=True) if type(d) is _ndarray
             else d.sum(axis=axes, keepdims=True))
    return d.reshape(shape)


def _check_sum_to(gs, shape, node, i):
    lead = len(gs) - len(shape)
    if not (lead >= 0 and all(s == 1 or s == t for s, t in zip(shape, gs[lead:]))):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                           f"{list(gs)} but expected shape compatible with {list(shape)}")


def _sum_to(g, shape, node, i):
    """Sum a broadcast gradient back to the input's shape: the one place broadcasting is undone."""
    _check_sum_to(g._data.shape, shape, node, i)
    return g.sum_to_size(shape)


def _accumulate(var, g, create_graph):
    """AccumulateGrad: add ``g`` into ``var.grad`` (in place when safe, like PyTorch).

    The leaf's Tensor.register_hook hooks already ran (they are its AccumulateGrad's tensor hooks). Locked:
    backward calls in several threads may accumulate into the same leaf (PyTorch guarantees this is safe)."""
    _lock_acquire()  # (acquire / release: a with block costs twice as much, and this runs per leaf per step)
    try:
        old = var._grad
        if create_graph:
            if old is None:
                # a copy (grad_fn CopyBackwards, as PyTorch's clone_obey_contract): .grad never aliases a
                # tensor of the graph or the caller's gradient, so in-place updates of .grad stay local
                from ..ops.inplace import CopyBackwards
                d = g._data
                var._grad = CopyBackwards.apply(_tensor_cls()._make(g._device.xp.empty_like(d), g._device), g)
            else:
                var._grad = old + g
        elif old is None:
            d = g._data
            # g itself when it is the engine's fresh, unshared gradient tensor and its array no view (else
            # _adopt). References to g: the engine's local or buffer, this parameter, getrefcount's argument;
            # to d: g._data, local d, the argument.
            if d.base is None and _refcount(g) <= 3 and _refcount(d) <= 3 and type(g) is _node.Tensor \
                    and not g._requires_grad and g._device is var._device and g._base is None \
                    and g._hooks is None and not g._is_inference:
                var._grad = g
            else:
                var._grad = _adopt(var, g)
            d = None
        elif old._requires_grad:
            var._grad = old.detach() + g.detach()
        else:
            od = old._data
            od += g._data
            old._version[0] += 1
    finally:
        _lock_release()
    if var._post_acc_hooks is not None:
        _post_accumulate(var)


def _accumulate_array(var, d):
    """_accumulate for _drain's array mode: ``d`` is the gradient's array. The first gradient becomes the leaf's
    ``.grad`` without a copy when nothing else refers to the array (references to d: the engine's local, this
    parameter, getrefcount's argument)."""
    _lock_acquire()  # (see _accumulate)
    try:
        old = var._grad
        if old is None:
            if d.base is not None or _refcount(d) > 3:
                d = _owned_array(d, 4)
            var._grad = _node.Tensor._make(d, var._device)
        elif old._requires_grad:
            var._grad = old.detach() + _node.Tensor._make(d, var._device)
        else:
            od = old._data
            od += d
            old._version[0] += 1
    finally:
        _lock_release()
    if var._post_acc_hooks is not None:
        _post_accumulate(var)


def _post_accumulate(var):
    """The leaf's register_post_accumulate_grad_hook hooks, after its .grad is updated."""
    for hook in list(var._post_acc_hooks.values()):
        hook(var)


_accumulate_lock = threading.RLock()
_lock_acquire, _lock_release = _accumulate_lock.acquire, _accumulate_lock.release
_ndarray = _np.ndarray
_add_reduce = _np.add.reduce  # what ndarray.sum calls, minus its Python wrapper
_refcount = sys.getrefcount


def _adopt(var, g):
    """The first gradient of a leaf, as its ``.grad``, when ``g`` itself can't be (_accumulate takes g when it
    is a fresh, unshared tensor whose array is no view): a new tensor on g's array when nothing else can see
    that array (see _owned_array), else on a copy. References to g: the engine's buffer or local, the
    parameters of _accumulate and of this function, getrefcount's argument; to d: g._data, local d, the
    parameter of _owned_array, the argument."""
    d = g._data
    if g._requires_grad or _refcount(g) > 4:
        d = d.copy()
    else:
        d = _owned_array(d, 4)
    return _node.Tensor._make(d, var._device)


def _owned_array(d, refs):
    """``d`` when nothing but the engine can see it (at most ``refs`` references, getrefcount's argument
    included), else a copy; so later in-place accumulation into ``.grad`` can't alias.

    PyTorch steals a gradient whose use count allows it; a view, an array referenced from anywhere but the
    engine (identity backward feeding two edges, user-given gradient, hooks) is copied. Except: a writable
    contiguous view spanning all of an otherwise unreferenced array (the transposed-back weight gradient of a
    linear layer, a reshaped sum) owns its memory."""
    b = d.base
    if b is None:
        return d if _refcount(d) <= refs else d.copy()
    # (references to b: d.base, local b, the argument)
    if (b.size == d.size and _refcount(b) <= 3 and _refcount(d) <= refs
            and getattr(d.flags, "writeable", True)  # (CuPy: no such flag)
            and (d.flags.c_contiguous or d.flags.f_contiguous)):
        if b.shape == d.shape and b.strides == d.strides and b.dtype == d.dtype:
            return b  # (not a reinterpreting view: relu's backward builds float bits in uint)
        return d
    return d.copy()
