/* autograd_gpu._fastpath, the module: the Python functions every recorded op and every training step run,
   in C (built by setup.py when a C compiler is present; AUTOGRAD_GPU_PURE_PYTHON=1 keeps the Python ones).

   This file: make = Tensor._make, record = node.Op._record, apply = node.Op.apply (bound by
   node.bind_fastpath). fastpath_methods.c: the optimizer step's Tensor methods (_methods.py binds them);
   fastpath_drain.c: backward()'s loop, engine._drain (engine.bind_fastpath). Each does the common case and
   hands every other case to the Python function it replaces, which stays the reference; tests/test_fastpath.py
   compares the two, and runs the engine's tests on the Python functions alone.

   Why C: these run for every op output, parameter and node, and in Python they are a few hundred bytecodes
   of attribute stores, tuple building and frames each (a recorded relu was 23.4k instructions, 6.6k of them
   NumPy's). Here the Tensor's and the node's slots are written at their offsets, read once from the classes'
   member descriptors; anything else (class attributes, a leaf's accumulator) goes through the ordinary
   attribute protocol. No NumPy headers: an array's shape and dtype are read as attributes. */
#include "fastpath.h"

/* set by init() */
PyTypeObject *tensor_type, *node_type;
PyObject *grad_state, *cpu_device;
static PyObject *ndarray_type, *generic_type, *np_array, *inference_active;
static PyObject *next_seq, *edge_of, *record_py, *record_hooks, *no_edge, *inference_save_msg;
Py_ssize_t t_data, t_device, t_requires_grad, t_grad_fn, t_output_nr, t_version;
Py_ssize_t n_seq, n_released, n_result, n_next_functions, n_needs_input_grad, n_input_meta, n_saved,
    n_saved_versions, n_dev;
/* set by init_apply() */
PyObject *fw_enabled;
static PyObject *apply_py, *forward_value_error;
/* made at import */
PyObject *zero, *one, *s_enabled, *s_is_inference, *s_shape, *s_dtype, *s_grad, *s_fw_grad, *s_kind;
static PyObject *s_forward, *s_inference, *s_accum, *s_save, *s_save_result;

static Py_ssize_t
slot_offset(PyTypeObject *tp, const char *name)
{
    /* (through getattr, not tp_dict: a static builtin type's tp_dict is NULL from Python 3.12) */
    PyObject *d = PyObject_GetAttrString((PyObject *)tp, name);
    if (d == NULL && !PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    int is_slot = d != NULL && Py_TYPE(d) == &PyMemberDescr_Type;
    PyMemberDef *m = is_slot ? ((PyMemberDescrObject *)d)->d_member : NULL;
    Py_XDECREF(d);  /* (the class keeps the descriptor, and with it m) */
    if (!is_slot) {
        PyErr_Format(PyExc_TypeError, "_fastpath: %s.%s is not a slot", tp->tp_name, name);
        return -1;
    }
    if (m->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "_fastpath: %s.%s is not an object slot", tp->tp_name, name);
        return -1;
    }
    return m->offset;
}

/* The globals init() binds, in its argument order; each holds a reference (released on a second init). */
static PyObject **const bound[] = {
    (PyObject **)&tensor_type, (PyObject **)&node_type, &ndarray_type, &generic_type, &np_array,
    &inference_active, &grad_state, &cpu_device, &next_seq, &edge_of, &record_py, &record_hooks, &no_edge,
    &inference_save_msg,
};
#define N_BOUND (sizeof(bound) / sizeof(bound[0]))

static PyObject *
init(PyObject *self, PyObject *args)
{
    PyObject *v[N_BOUND];
    if (!PyArg_ParseTuple(args, "O!O!OOOOOOOOOOOO:init", &PyType_Type, &v[0], &PyType_Type, &v[1], &v[2], &v[3],
                          &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13]))
        return NULL;
    if (!PyList_Check(v[5]) || !PyList_Check(v[11])) {
        PyErr_SetString(PyExc_TypeError, "_fastpath.init: inference_active and record_hooks must be lists");
        return NULL;
    }
    PyTypeObject *tt = (PyTypeObject *)v[0], *nt = (PyTypeObject *)v[1];
    Py_ssize_t off[15];
    const char *tensor_slots[] = {"_data", "_device", "_requires_grad", "grad_fn", "_output_nr", "_version"};
    const char *node_slots[] = {"_seq", "_released", "_result", "next_functions", "needs_input_grad", "_input_meta",
                                "_saved", "_saved_versions", "dev"};
    for (int i = 0; i < 15; i++)  /* (all read before anything is bound: a failed init changes nothing) */
        if ((off[i] = i < 6 ? slot_offset(tt, tensor_slots[i]) : slot_offset(nt, node_slots[i - 6])) < 0)
            return NULL;
    t_data = off[0], t_device = off[1], t_requires_grad = off[2], t_grad_fn = off[3], t_output_nr = off[4];
    t_version = off[5];
    n_seq = off[6], n_released = off[7], n_result = off[8], n_next_functions = off[9];
    n_needs_input_grad = off[10], n_input_meta = off[11], n_saved = off[12], n_saved_versions = off[13];
    n_dev = off[14];
    for (size_t i = 0; i < N_BOUND; i++) {
        Py_INCREF(v[i]);
        Py_XSETREF(*bound[i], v[i]);
    }
    Py_RETURN_NONE;
}

/* Tensor._make, with the new tensor's grad_fn and output number given (record's result). Steals nothing. */
PyObject *
make_tensor(PyObject *data, PyObject *device, PyObject *requires_grad, PyObject *grad_fn, PyObject *output_nr)
{
    PyObject *owned = NULL;
    if (Py_TYPE(data) != (PyTypeObject *)ndarray_type) {  /* NumPy gives scalars for 0-d results */
        int r = PyObject_IsInstance(data, generic_type);
        if (r < 0)
            return NULL;
        if (r) {
            owned = PyObject_CallOneArg(np_array, data);
            if (owned == NULL)
                return NULL;
            data = owned;
        }
    }
    PyObject *version = PyList_New(1);
    if (version == NULL) {
        Py_XDECREF(owned);
        return NULL;
    }
    Py_INCREF(zero);
    PyList_SET_ITEM(version, 0, zero);
    PyObject *t = tensor_type->tp_alloc(tensor_type, 0);
    if (t == NULL) {
        Py_DECREF(version);
        Py_XDECREF(owned);
        return NULL;
    }
    Py_INCREF(data);
    Py_INCREF(device);
    Py_INCREF(requires_grad);
    Py_INCREF(grad_fn);
    Py_INCREF(output_nr);
    SLOT(t, t_data) = data;
    SLOT(t, t_device) = device;
    SLOT(t, t_requires_grad) = requires_grad;
    SLOT(t, t_grad_fn) = grad_fn;
    SLOT(t, t_output_nr) = output_nr;
    SLOT(t, t_version) = version;
    Py_XDECREF(owned);
    PyObject *active = PyList_GET_ITEM(inference_active, 0);  /* inference_mode blocks open in any thread */
    if (active != zero) {
        int on = PyObject_IsTrue(active);
        if (on > 0) {
            PyObject *v = PyObject_GetAttr(grad_state, s_inference);  /* this thread's */
            on = v == NULL ? -1 : PyObject_IsTrue(v);
            Py_XDECREF(v);
            if (on > 0)
                on = PyObject_SetAttr(t, s_is_inference, Py_True);
        }
        if (on < 0) {
            Py_DECREF(t);
            return NULL;
        }
    }
    return t;
}

static PyObject *
make(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 5) {
        PyErr_Format(PyExc_TypeError, "_make() takes from 1 to 5 positional arguments but %zd were given", nargs);
        return NULL;
    }
    return make_tensor(args[0], nargs > 1 ? args[1] : cpu_device, nargs > 2 ? args[2] : Py_False,
                       nargs > 3 ? args[3] : Py_None, nargs > 4 ? args[4] : zero);
}

/* The edge through which gradient reaches input t (node.edge_of, with a leaf's kept accumulator read
   directly); a new reference. */
static PyObject *
input_edge(PyObject *t)
{
    PyObject *fn = SLOT(t, t_grad_fn);
    if (fn != NULL && fn != Py_None) {
        PyObject *nr = get_slot(t, t_output_nr, "_output_nr");
        return nr == NULL ? NULL : PyTuple_Pack(2, fn, nr);
    }
    PyObject *rg = get_slot(t, t_requires_grad, "_requires_grad");
    if (rg == NULL)
        return NULL;
    int need = PyObject_IsTrue(rg);
    if (need < 0)
        return NULL;
    if (!need) {
        Py_INCREF(no_edge);
        return no_edge;
    }
    PyObject *acc = PyObject_GetAttr(t, s_accum);
    if (acc == NULL)
        return NULL;
    int have = PyObject_IsTrue(acc);
    if (have <= 0) {  /* x._accum or edge_of(x)[0] */
        Py_DECREF(acc);
        if (have < 0)
            return NULL;
        PyObject *e = PyObject_CallOneArg(edge_of, t);
        if (e == NULL)
            return NULL;
        acc = PySequence_GetItem(e, 0);
        Py_DECREF(e);
        if (acc == NULL)
            return NULL;
    }
    PyObject *edge = PyTuple_Pack(2, acc, zero);
    Py_DECREF(acc);
    return edge;
}

/* (array.shape, array.dtype) of input t; a new reference. */
static PyObject *
input_meta(PyObject *t)
{
    PyObject *d = get_slot(t, t_data, "_data");
    if (d == NULL)
        return NULL;
    PyObject *shape = PyObject_GetAttr(d, s_shape);
    if (shape == NULL)
        return NULL;
    PyObject *dtype = PyObject_GetAttr(d, s_dtype);
    if (dtype == NULL) {
        Py_DECREF(shape);
        return NULL;
    }
    PyObject *m = PyTuple_Pack(2, shape, dtype);
    Py_DECREF(shape);
    Py_DECREF(dtype);
    return m;
}

/* node._saved / _saved_versions from the class's ``save`` (input indices) and the inference-tensor check. */
static int
save_inputs(PyObject *node, PyObject *inputs)
{
    PyObject *save = PyObject_GetAttr(node, s_save);
    if (save == NULL)
        return -1;
    int any = PyObject_IsTrue(save);
    if (any <= 0) {
        Py_DECREF(save);
        if (any < 0)
            return -1;
        set_slot(node, n_saved, PyTuple_New(0));
        return 0;
    }
    PyObject *index = PySequence_Fast(save, "_fastpath.record: an op's save must be a sequence");
    Py_DECREF(save);
    if (index == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(index);
    PyObject *saved = PyTuple_New(n), *versions = PyTuple_New(n);
    if (saved == NULL || versions == NULL) {
        Py_DECREF(index);
        Py_XDECREF(saved);
        Py_XDECREF(versions);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyObject_GetItem(inputs, PySequence_Fast_GET_ITEM(index, i));
        if (t == NULL)
            goto fail;
        PyTuple_SET_ITEM(saved, i, t);
        if (!PyObject_TypeCheck(t, tensor_type)) {
            PyErr_SetString(PyExc_TypeError, "_fastpath.record: a saved input is not a Tensor");
            goto fail;
        }
        PyObject *ver = get_slot(t, t_version, "_version");
        PyObject *v = ver == NULL ? NULL : PySequence_GetItem(ver, 0);
        if (v == NULL)
            goto fail;
        PyTuple_SET_ITEM(versions, i, v);
    }
    Py_DECREF(index);
    set_slot(node, n_saved, saved);
    set_slot(node, n_saved_versions, versions);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *inf = PyObject_GetAttr(PyTuple_GET_ITEM(saved, i), s_is_inference);
        int is_inf = inf == NULL ? -1 : PyObject_IsTrue(inf);
        Py_XDECREF(inf);
        if (is_inf) {
            if (is_inf > 0)
                PyErr_SetObject(PyExc_RuntimeError, inference_save_msg);
            return -1;
        }
    }
    return 0;
fail:
    Py_DECREF(index);
    Py_DECREF(saved);
    Py_DECREF(versions);
    return -1;
}

/* Op._record(node, inputs, out): the node's edges, metadata and saved inputs, and its output tensor. */
static PyObject *
record(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "record() takes 3 positional arguments but %zd were given", nargs);
        return NULL;
    }
    PyObject *node = args[0], *inputs = args[1], *out = args[2];
    /* the common case only: one output array, no record hooks, a tuple of Tensors into a Node */
    int common = PyTuple_CheckExact(inputs) && !PyTuple_Check(out) && PyObject_TypeCheck(node, node_type)
                 && PyList_GET_ITEM(record_hooks, 0) == Py_False;
    Py_ssize_t n = common ? PyTuple_GET_SIZE(inputs) : 0;
    for (Py_ssize_t i = 0; common && i < n; i++)
        common = PyObject_TypeCheck(PyTuple_GET_ITEM(inputs, i), tensor_type);
    if (!common || n == 0)
        return PyObject_Vectorcall(record_py, args, 3, NULL);

    PyObject *seq = PyObject_CallNoArgs(next_seq);
    if (seq == NULL)
        return NULL;
    set_slot(node, n_seq, seq);
    Py_INCREF(Py_False);
    set_slot(node, n_released, Py_False);
    Py_INCREF(Py_None);
    set_slot(node, n_result, Py_None);

    PyObject *edges = PyTuple_New(n), *needs = PyTuple_New(n), *meta = PyTuple_New(n);
    if (edges == NULL || needs == NULL || meta == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyTuple_GET_ITEM(inputs, i);
        PyObject *e = input_edge(t);
        if (e == NULL)
            goto fail;
        PyTuple_SET_ITEM(edges, i, e);
        PyObject *rg = get_slot(t, t_requires_grad, "_requires_grad");
        if (rg == NULL)
            goto fail;
        Py_INCREF(rg);
        PyTuple_SET_ITEM(needs, i, rg);
        PyObject *m = input_meta(t);
        if (m == NULL)
            goto fail;
        PyTuple_SET_ITEM(meta, i, m);
    }
    set_slot(node, n_next_functions, edges);
    set_slot(node, n_needs_input_grad, needs);
    set_slot(node, n_input_meta, meta);
    edges = needs = meta = NULL;
    if (save_inputs(node, inputs) < 0)
        return NULL;

    PyObject *dev = get_slot(node, n_dev, "dev");
    if (dev == NULL)
        return NULL;
    PyObject *res = make_tensor(out, dev, Py_True, node, zero);
    if (res == NULL)
        return NULL;
    PyObject *flag = PyObject_GetAttr(node, s_save_result);
    int keep = flag == NULL ? -1 : PyObject_IsTrue(flag);
    Py_XDECREF(flag);
    if (keep > 0) {  /* the output array (no Tensor: no output -> grad_fn -> output cycle) and its version */
        PyObject *result = PyTuple_Pack(3, out, SLOT(res, t_version), zero);
        if (result == NULL)
            keep = -1;
        else
            set_slot(node, n_result, result);
    }
    if (keep < 0) {
        Py_DECREF(res);
        return NULL;
    }
    return res;
fail:
    Py_XDECREF(edges);
    Py_XDECREF(needs);
    Py_XDECREF(meta);
    return NULL;
}


static PyObject *
init_apply(PyObject *self, PyObject *args)
{
    PyObject *a, *f, *v;
    if (!PyArg_ParseTuple(args, "OO!O:init_apply", &a, &PyList_Type, &f, &v))
        return NULL;
    Py_INCREF(a);
    Py_INCREF(f);
    Py_INCREF(v);
    Py_XSETREF(apply_py, a);
    Py_XSETREF(fw_enabled, f);
    Py_XSETREF(forward_value_error, v);
    Py_RETURN_NONE;
}

/* inputs[0..n) as a new tuple */
static PyObject *
as_tuple(PyObject *const *inputs, Py_ssize_t n)
{
    PyObject *t = PyTuple_New(n);
    if (t != NULL)
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_INCREF(inputs[i]);
            PyTuple_SET_ITEM(t, i, inputs[i]);
        }
    return t;
}

#define SMALL_CALL 8

/* Op.apply(cls, *inputs, **params): the node, its forward on the inputs' arrays, and the output recorded
   (record) when grad mode is on and an input requires grad, else just wrapped. Anything uncommon (a forward-AD
   level, inputs on different devices, a non-Tensor input, a class that is not a Node) goes to the Python
   Op.apply, which raises PyTorch's errors; a ValueError from forward goes to node._forward_value_error. */
static PyObject *
apply(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    Py_ssize_t n = nargs - 1;
    if (n < 1 || PyList_GET_ITEM(fw_enabled, 0) != Py_False || !PyType_Check(args[0])
        || !PyType_IsSubtype((PyTypeObject *)args[0], node_type) || 1 + n + nkw > SMALL_CALL)
        return PyObject_Vectorcall(apply_py, args, nargs, kwnames);
    PyObject *const *inputs = args + 1;
    PyObject *dev = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = inputs[i];
        if (!PyObject_TypeCheck(t, tensor_type) || SLOT(t, t_device) == NULL || SLOT(t, t_data) == NULL
            || (i && SLOT(t, t_device) != dev))
            return PyObject_Vectorcall(apply_py, args, nargs, kwnames);
        dev = SLOT(t, t_device);
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *node = cls->tp_alloc(cls, 0);
    if (node == NULL)
        return NULL;
    Py_INCREF(dev);
    set_slot(node, n_dev, dev);

    /* node.forward(*arrays, **params): [slot for the offset protocol, node, arrays..., keyword values...] */
    PyObject *call[1 + SMALL_CALL];
    call[1] = node;
    for (Py_ssize_t i = 0; i < n; i++)
        call[2 + i] = SLOT(inputs[i], t_data);
    for (Py_ssize_t i = 0; i < nkw; i++)
        call[2 + n + i] = args[nargs + i];
    PyObject *out = PyObject_VectorcallMethod(s_forward, call + 1, (1 + n) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                              kwnames);
    if (out == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {  /* shapes that don't broadcast: PyTorch's message */
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            if (tb != NULL)
                PyException_SetTraceback(value, tb);
            PyObject *tup = as_tuple(inputs, n);
            if (tup != NULL) {
                PyObject *r = PyObject_CallFunctionObjArgs(forward_value_error, value, tup, NULL);
                Py_XDECREF(r);  /* (it always raises) */
                Py_DECREF(tup);
            }
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        }
        Py_DECREF(node);
        return NULL;
    }
    PyObject *res = NULL;
    PyObject *enabled = PyObject_GetAttr(grad_state, s_enabled);  /* this thread's grad mode */
    int on = enabled == NULL ? -1 : PyObject_IsTrue(enabled);
    Py_XDECREF(enabled);
    if (on < 0)
        goto done;
    if (on) {
        for (Py_ssize_t i = 0; i < n; i++) {
            int need = PyObject_IsTrue(SLOT(inputs[i], t_requires_grad));
            if (need < 0)
                goto done;
            if (need) {
                PyObject *tup = as_tuple(inputs, n);
                if (tup != NULL) {
                    PyObject *rec[3] = {node, tup, out};
                    res = record(NULL, rec, 3);
                    Py_DECREF(tup);
                }
                goto done;
            }
        }
    }
    /* nothing to record: the output array(s) wrapped on the node's device (forward may move it, as .to does) */
    dev = get_slot(node, n_dev, "dev");
    if (dev == NULL)
        goto done;
    if (PyTuple_Check(out)) {
        Py_ssize_t k = PyTuple_GET_SIZE(out);
        res = PyTuple_New(k);
        for (Py_ssize_t i = 0; res != NULL && i < k; i++) {
            PyObject *t = make_tensor(PyTuple_GET_ITEM(out, i), dev, Py_False, Py_None, zero);
            if (t == NULL)
                Py_CLEAR(res);
            else
                PyTuple_SET_ITEM(res, i, t);
        }
    }
    else
        res = make_tensor(out, dev, Py_False, Py_None, zero);
done:
    Py_DECREF(out);
    Py_DECREF(node);
    return res;
}

/* attribute is None (the class default, or an instance value); -1 on error */
int
attr_is_none(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    int r = v == Py_None;
    Py_DECREF(v);
    return r;
}

static PyMethodDef module_methods[] = {
    {"init", init, METH_VARARGS, "Bind the Tensor and Node classes and the Python state the fast path reads."},
    {"make", (PyCFunction)(void (*)(void))make, METH_FASTCALL, "Tensor._make in C."},
    {"record", (PyCFunction)(void (*)(void))record, METH_FASTCALL, "Op._record in C (common case)."},
    {"init_apply", init_apply, METH_VARARGS, "Bind the Python Op.apply, the forward-AD flag, the ValueError hook."},
    {"apply", (PyCFunction)(void (*)(void))apply, METH_FASTCALL | METH_KEYWORDS, "Op.apply in C (common case)."},
    {"methods", fp_methods, METH_O, "Tensor methods in C, given the Python ones they fall back to."},
    {"init_drain", fp_init_drain, METH_VARARGS, "Bind AccumulateGrad and the engine's helpers for drain()."},
    {"drain", (PyCFunction)(void (*)(void))fp_drain, METH_FASTCALL, "engine._drain in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastpath", NULL, -1, module_methods};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    if ((zero = PyLong_FromLong(0)) == NULL || (one = PyLong_FromLong(1)) == NULL)
        return NULL;
    INTERN(s_grad, "_grad");
    INTERN(s_fw_grad, "_fw_grad");
    INTERN(s_kind, "kind");
    INTERN(s_forward, "forward");
    INTERN(s_enabled, "enabled");
    INTERN(s_inference, "inference");
    INTERN(s_is_inference, "_is_inference");
    INTERN(s_accum, "_accum");
    INTERN(s_shape, "shape");
    INTERN(s_dtype, "dtype");
    INTERN(s_save, "save");
    INTERN(s_save_result, "save_result");
    return PyModule_Create(&module);
}
