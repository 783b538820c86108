/* backward()'s loop in C (see fastpath_core.c): engine._drain's steps, the uncommon nodes through the same
   Python helpers it calls. */
#include "fastpath.h"

/* set by init_drain() */
static PyObject *accumulate_grad_type, *anomaly_enabled, *heap_push, *heap_pop, *quiet_enter, *quiet_exit,
    *run_node_raw, *run_node, *checked_arrays, *accumulate_array, *add_grad;
static PyObject *s_plain, *s_backward_raw, *s_backward_unwrapped, *s_pre_hooks, *s_tensor_hooks, *s_post_hooks,
    *s_variable_ref, *s_n_out, *s_release, *s_next_functions, *s_seq, *s_released, *s_input_meta;

PyObject *
fp_init_drain(PyObject *self, PyObject *args)
{
    if (s_plain == NULL) {  /* (interned once) */
        INTERN(s_plain, "_plain");
        INTERN(s_backward_raw, "backward_raw");
        INTERN(s_backward_unwrapped, "_backward_unwrapped");
        INTERN(s_pre_hooks, "_pre_hooks");
        INTERN(s_tensor_hooks, "_tensor_hooks");
        INTERN(s_post_hooks, "_post_hooks");
        INTERN(s_variable_ref, "_variable_ref");
        INTERN(s_n_out, "_n_out");
        INTERN(s_release, "_release");
        INTERN(s_next_functions, "next_functions");
        INTERN(s_seq, "_seq");
        INTERN(s_released, "_released");
        INTERN(s_input_meta, "_input_meta");
    }
    PyObject *v[11];
    if (!PyArg_ParseTuple(args, "O!O!OOOOOOOOO:init_drain", &PyType_Type, &v[0], &PyList_Type, &v[1], &v[2],
                          &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10]))
        return NULL;
    PyObject **dst[] = {&accumulate_grad_type, &anomaly_enabled, &heap_push, &heap_pop, &quiet_enter,
                        &quiet_exit, &run_node_raw, &run_node, &checked_arrays, &accumulate_array, &add_grad};
    for (int i = 0; i < 11; i++) {
        Py_INCREF(v[i]);
        Py_XSETREF(*dst[i], v[i]);
    }
    Py_RETURN_NONE;
}

/* A node's slot (written by record or by Python), else its attribute (a class default, an instance value, a
   Node subclass's own definition); a new reference. */
static PyObject *
node_attr(PyObject *node, Py_ssize_t off, PyObject *name)
{
    if (PyObject_TypeCheck(node, node_type)) {
        PyObject *v = SLOT(node, off);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(node, name);
}

/* truth of an attribute; -1 on error */
static int
attr_true(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

/* node._n_out == 1; -1 on error */
static int
one_output(PyObject *node)
{
    PyObject *v = PyObject_GetAttr(node, s_n_out);
    if (v == NULL)
        return -1;
    int r = PyObject_RichCompareBool(v, one, Py_EQ);
    Py_DECREF(v);
    return r;
}

/* The common node's gradients (a plain op with backward_raw or its Tensor formula), checked against its
   inputs' shapes and dtypes (_checked_arrays where they don't fit); a new reference. */
static PyObject *
plain_backward(PyObject *node, PyObject *g)
{
    PyObject *braw = PyObject_GetAttr(node, s_backward_raw), *out;
    if (braw == NULL)
        return NULL;
    if (braw != Py_None)
        out = PyObject_CallOneArg(braw, g);
    else
        out = PyObject_CallMethodOneArg(node, s_backward_unwrapped, g);
    Py_DECREF(braw);
    if (out == NULL)
        return NULL;
    if (!PyTuple_Check(out)) {
        PyObject *t = PyTuple_Pack(1, out);
        Py_DECREF(out);
        if (t == NULL)
            return NULL;
        out = t;
    }
    PyObject *meta = node_attr(node, n_input_meta, s_input_meta);
    if (meta == NULL || !PyTuple_Check(meta)) {
        Py_XDECREF(meta);
        Py_DECREF(out);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "_fastpath.drain: a node's _input_meta is not a tuple");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(meta);
    int fits = PyTuple_GET_SIZE(out) == n;  /* (else _checked_arrays raises the count error) */
    for (Py_ssize_t i = 0; fits == 1 && i < n; i++) {
        PyObject *d = PyTuple_GET_ITEM(out, i), *m = PyTuple_GET_ITEM(meta, i);
        if (d == Py_None)
            continue;
        if (!PyTuple_Check(m) || PyTuple_GET_SIZE(m) != 2) {
            fits = 0;
            break;
        }
        PyObject *dtype = PyObject_GetAttr(d, s_dtype);
        if (dtype == NULL) {
            fits = -1;
            break;
        }
        int same_dtype = dtype == PyTuple_GET_ITEM(m, 1);  /* (by identity: an equal, distinct one is checked) */
        Py_DECREF(dtype);
        if (!same_dtype) {
            fits = 0;
            break;
        }
        PyObject *shape = PyObject_GetAttr(d, s_shape);
        fits = shape == NULL ? -1 : PyObject_RichCompareBool(shape, PyTuple_GET_ITEM(m, 0), Py_EQ);
        Py_XDECREF(shape);
    }
    Py_DECREF(meta);
    if (fits < 0) {
        Py_DECREF(out);
        return NULL;
    }
    if (!fits) {
        PyObject *checked = PyObject_CallFunctionObjArgs(checked_arrays, node, out, NULL);
        Py_DECREF(out);
        out = checked;
    }
    return out;
}

/* A leaf's accumulator: its gradient added into .grad (engine._drain's AccumulateGrad branch). Steals g. */
static int
accumulate(PyObject *node, PyObject *g, int raw, PyObject *create_graph)
{
    PyObject *r = NULL;
    if (!raw || attr_is_none(node, s_pre_hooks) != 1 || attr_is_none(node, s_tensor_hooks) != 1
        || attr_is_none(node, s_post_hooks) != 1) {
        if (PyErr_Occurred()) {
            Py_DECREF(g);
            return -1;
        }
        PyObject *grads = PyList_New(1);  /* (the list holds the only reference: see engine._accumulate) */
        if (grads == NULL) {
            Py_DECREF(g);
            return -1;
        }
        PyList_SET_ITEM(grads, 0, g);
        if (raw)
            r = PyObject_CallFunctionObjArgs(run_node_raw, node, grads, NULL);
        else
            r = PyObject_CallFunctionObjArgs(run_node, node, grads, create_graph, Py_None, Py_None, Py_None, NULL);
        Py_DECREF(grads);
    }
    else {
        PyObject *ref = PyObject_GetAttr(node, s_variable_ref);
        PyObject *var = ref == NULL ? NULL : PyObject_CallNoArgs(ref);
        Py_XDECREF(ref);
        if (var != NULL && var != Py_None)  /* (None: the leaf is gone, and its gradient with it) */
            r = PyObject_CallFunctionObjArgs(accumulate_array, var, g, NULL);
        else if (var != NULL)
            r = Py_NewRef(Py_None);
        Py_XDECREF(var);
        Py_DECREF(g);
    }
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Queue child's gradient g (borrowed; may be None) for output nr: engine._drain's edge loop. */
static int
pass_gradient(PyObject *buffers, PyObject *heap, PyObject *child, PyObject *nr, PyObject *g)
{
    int known = PyDict_Contains(buffers, child);
    if (known < 0)
        return -1;
    int single = one_output(child);
    if (single < 0)
        return -1;
    if (!known) {  /* the first gradient (or None) for this node: queue it */
        PyObject *seq = node_attr(child, n_seq, s_seq);
        PyObject *neg = seq == NULL ? NULL : PyNumber_Negative(seq);
        PyObject *key = PyLong_FromVoidPtr(child);
        PyObject *entry = neg == NULL || key == NULL ? NULL : PyTuple_Pack(3, neg, key, child);
        Py_XDECREF(seq);
        Py_XDECREF(neg);
        Py_XDECREF(key);
        PyObject *r = entry == NULL ? NULL : PyObject_CallFunctionObjArgs(heap_push, heap, entry, NULL);
        Py_XDECREF(entry);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
        if (single)
            return PyDict_SetItem(buffers, child, g);
        PyObject *nout = PyObject_GetAttr(child, s_n_out);
        Py_ssize_t k = nout == NULL ? -1 : PyNumber_AsSsize_t(nout, PyExc_OverflowError);
        Py_XDECREF(nout);
        if (k < 0)
            return -1;
        PyObject *slots = PyList_New(k);
        if (slots == NULL)
            return -1;
        for (Py_ssize_t i = 0; i < k; i++)
            PyList_SET_ITEM(slots, i, Py_NewRef(Py_None));
        int e = PyDict_SetItem(buffers, child, slots);
        Py_DECREF(slots);
        if (e < 0)
            return -1;
    }
    if (g == Py_None)
        return 0;
    if (single) {  /* (_add_grad's common case inline) */
        PyObject *old = PyDict_GetItemWithError(buffers, child);
        if (old == NULL)
            return -1;
        if (old == Py_None)
            return PyDict_SetItem(buffers, child, g);
        PyObject *sum = PyNumber_Add(old, g);
        if (sum == NULL)
            return -1;
        int e = PyDict_SetItem(buffers, child, sum);
        Py_DECREF(sum);
        return e;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(add_grad, buffers, child, nr, g, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* One node of the loop; returns 0, or -1 with an exception set. */
static int
drain_node(PyObject *node, PyObject *buffers, PyObject *heap, int raw, int retain, PyObject *create_graph)
{
    PyObject *g = PyDict_GetItemWithError(buffers, node);  /* buffers.pop(node) */
    if (g == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, node);
        return -1;
    }
    Py_INCREF(g);
    if (PyDict_DelItem(buffers, node) < 0) {
        Py_DECREF(g);
        return -1;
    }
    PyObject *out = NULL;  /* the gradients for node.next_functions; NULL: None */
    int plain = attr_true(node, s_plain);
    if (plain < 0) {
        Py_DECREF(g);
        return -1;
    }
    if (plain && raw) {  /* an op node with one output, no hooks, not retained */
        if (g != Py_None) {
            PyObject *rel = node_attr(node, n_released, s_released);
            int released = rel == NULL ? -1 : PyObject_IsTrue(rel);
            Py_XDECREF(rel);
            int anomaly = released < 0 ? -1 : PyObject_IsTrue(PyList_GET_ITEM(anomaly_enabled, 0));
            if (anomaly < 0) {
                Py_DECREF(g);
                return -1;
            }
            if (released || anomaly) {  /* (raises RELEASED_MSG / reports the anomaly) */
                PyObject *grads = PyList_New(1);
                if (grads != NULL) {
                    PyList_SET_ITEM(grads, 0, Py_NewRef(g));
                    out = PyObject_CallFunctionObjArgs(run_node_raw, node, grads, NULL);
                    Py_DECREF(grads);
                }
            }
            else
                out = plain_backward(node, g);
            if (out == NULL) {
                Py_DECREF(g);
                return -1;
            }
            if (out == Py_None)
                Py_CLEAR(out);
        }
        Py_DECREF(g);
    }
    else if (Py_TYPE(node) == (PyTypeObject *)accumulate_grad_type) {
        if (g == Py_None) {
            Py_DECREF(g);
            return 0;
        }
        return accumulate(node, g, raw, create_graph);
    }
    else {  /* hooks, retain_grad, several outputs, a custom Function: the Python node runner */
        int single = one_output(node);
        PyObject *grads = g;
        if (single > 0) {
            grads = PyList_New(1);
            if (grads == NULL) {
                Py_DECREF(g);
                return -1;
            }
            PyList_SET_ITEM(grads, 0, g);
        }
        if (single < 0) {
            Py_DECREF(g);
            return -1;
        }
        g = NULL;
        int all_none = 1;
        PyObject *seq = PySequence_Fast(grads, "_fastpath.drain: a node's buffered gradients are not a list");
        if (seq == NULL) {
            Py_DECREF(grads);
            return -1;
        }
        for (Py_ssize_t i = 0; all_none && i < PySequence_Fast_GET_SIZE(seq); i++)
            all_none = PySequence_Fast_GET_ITEM(seq, i) == Py_None;
        Py_DECREF(seq);
        if (!all_none) {
            if (raw)
                out = PyObject_CallFunctionObjArgs(run_node_raw, node, grads, NULL);
            else
                out = PyObject_CallFunctionObjArgs(run_node, node, grads, create_graph, Py_None, Py_None, Py_None,
                                                   NULL);
            Py_DECREF(grads);
            if (out == NULL)
                return -1;
            if (out == Py_None)
                Py_CLEAR(out);
        }
        else
            Py_DECREF(grads);
    }
    if (!retain) {
        PyObject *r = PyObject_CallMethodNoArgs(node, s_release);
        if (r == NULL) {
            Py_XDECREF(out);
            return -1;
        }
        Py_DECREF(r);
    }
    PyObject *nf = node_attr(node, n_next_functions, s_next_functions);
    PyObject *edges = nf == NULL ? NULL : PySequence_Fast(nf, "_fastpath.drain: next_functions is not a sequence");
    Py_XDECREF(nf);
    PyObject *grads = NULL;
    if (edges != NULL && out != NULL)
        grads = PySequence_Fast(out, "_fastpath.drain: a node's gradients are not a sequence");
    int err = edges == NULL || (out != NULL && grads == NULL);
    if (!err) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(edges);
        if (grads != NULL && PySequence_Fast_GET_SIZE(grads) < n)  /* (zip: the shorter) */
            n = PySequence_Fast_GET_SIZE(grads);
        for (Py_ssize_t i = 0; !err && i < n; i++) {
            PyObject *edge = PySequence_Fast_GET_ITEM(edges, i);
            if (!PyTuple_Check(edge) || PyTuple_GET_SIZE(edge) != 2) {
                PyErr_SetString(PyExc_TypeError, "_fastpath.drain: an edge is not a (node, nr) pair");
                err = 1;
                break;
            }
            PyObject *child = PyTuple_GET_ITEM(edge, 0);
            if (child == Py_None)
                continue;
            PyObject *gi = grads == NULL ? Py_None : PySequence_Fast_GET_ITEM(grads, i);
            err = pass_gradient(buffers, heap, child, PyTuple_GET_ITEM(edge, 1), gi) < 0;
        }
    }
    Py_XDECREF(grads);
    Py_XDECREF(edges);
    Py_XDECREF(out);  /* (this node's gradients: a leaf adopts an array only when nothing else holds it) */
    return err ? -1 : 0;
}

/* engine._drain(buffers, heap, retain_graph, create_graph) */
PyObject *
fp_drain(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "drain(buffers: dict, heap: list, retain_graph, create_graph)");
        return NULL;
    }
    PyObject *buffers = args[0], *heap = args[1], *create_graph = args[3];
    int retain = PyObject_IsTrue(args[2]), create = PyObject_IsTrue(create_graph);
    int fw = PyObject_IsTrue(PyList_GET_ITEM(fw_enabled, 0));
    if (retain < 0 || create < 0 || fw < 0)
        return NULL;
    int raw = !create && !fw;
    PyObject *prev = PyObject_GetAttr(grad_state, s_enabled);
    if (prev == NULL)
        return NULL;
    if (PyObject_SetAttr(grad_state, s_enabled, create_graph) < 0) {
        Py_DECREF(prev);
        return NULL;
    }
    PyObject *token = PyObject_CallNoArgs(quiet_enter);  /* (see engine.run) */
    int err = token == NULL;
    while (!err && PyList_GET_SIZE(heap)) {
        PyObject *entry = PyObject_CallOneArg(heap_pop, heap);
        PyObject *node = entry == NULL ? NULL : PySequence_GetItem(entry, 2);
        Py_XDECREF(entry);
        err = node == NULL || drain_node(node, buffers, heap, raw, retain, create_graph) < 0;
        Py_XDECREF(node);
    }
    /* finally: the floating-point state and the grad mode back, an exception kept across */
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    if (token != NULL) {
        PyObject *r = PyObject_CallOneArg(quiet_exit, token);
        Py_XDECREF(r);
        Py_DECREF(token);
        if (r == NULL && et == NULL)
            PyErr_Fetch(&et, &ev, &etb);
        else if (r == NULL)
            PyErr_Clear();
    }
    if (PyObject_SetAttr(grad_state, s_enabled, prev) < 0) {
        if (et == NULL)
            PyErr_Fetch(&et, &ev, &etb);
        else
            PyErr_Clear();
    }
    Py_DECREF(prev);
    if (et != NULL) {
        PyErr_Restore(et, ev, etb);
        return NULL;
    }
    Py_RETURN_NONE;
}
