/* autograd_gpu._fastpath: the two Python functions every recorded op runs, in C.

   make(data, device=CPU, requires_grad=False, grad_fn=None, output_nr=0) is Tensor._make, and
   record(node, inputs, out) is node.Op._record; tensor.py and node.py use these when this module is built and
   AUTOGRAD_GPU_PURE_PYTHON is not set. The Python functions stay the reference (and the fallback, for a
   machine without a C compiler): record() hands them every case but the common one (one output array, no
   anomaly mode or saved-tensor hooks), and tests/test_fastpath.py checks that both leave the same state.

   Why C: these run for every op output, and in Python they are a few hundred bytecodes of attribute stores
   and tuple building (about 6,500 instructions per recorded op, a third of a recorded relu). Here the
   Tensor's and the node's slots are written at their offsets, read once from the classes' member
   descriptors; anything else (class attributes, a leaf's accumulator) goes through the ordinary attribute
   protocol. No NumPy headers: an array's shape and dtype are read as attributes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* set by init() */
static PyTypeObject *tensor_type, *node_type;
static PyObject *ndarray_type, *generic_type, *np_array, *inference_active, *grad_state, *cpu_device;
static PyObject *next_seq, *edge_of, *record_py, *record_hooks, *no_edge, *inference_save_msg;
/* slot offsets: Tensor */
static Py_ssize_t t_data, t_device, t_requires_grad, t_grad_fn, t_output_nr, t_version;
/* slot offsets: Node */
static Py_ssize_t n_seq, n_released, n_result, n_next_functions, n_needs_input_grad, n_input_meta, n_saved,
    n_saved_versions, n_dev;
/* set by methods() */
static PyObject *py_rmul, *py_grad_get, *py_grad_set, *py_iadd, *py_isub, *py_imul;
/* set by init_apply() */
static PyObject *apply_py, *fw_enabled, *forward_value_error;
static PyObject *s_grad, *s_fw_grad, *s_kind;
static PyObject *zero, *one, *s_forward, *s_enabled, *s_inference, *s_is_inference, *s_accum, *s_shape, *s_dtype, *s_save, *s_save_result;

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Store a new reference in a slot (dropping what it held). */
static inline void
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

/* Read a slot; NULL (never set) raises AttributeError as the attribute read would. */
static inline PyObject *
get_slot(PyObject *obj, Py_ssize_t off, const char *name)
{
    PyObject *v = SLOT(obj, off);
    if (v == NULL)
        PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%s'", Py_TYPE(obj)->tp_name,
                     name);
    return v;
}

static Py_ssize_t
slot_offset(PyTypeObject *tp, const char *name)
{
    PyObject *d = PyDict_GetItemString(tp->tp_dict, name);
    if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type) {
        PyErr_Format(PyExc_TypeError, "_fastpath: %s.%s is not a slot", tp->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
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
static PyObject *
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

/* ---- Tensor methods on the optimizer's path: lr * p.grad, p -= ..., p.grad = None ------------------------
   Each does the common case and calls the Python method it replaces (bound by methods()) for anything else,
   so the checks and PyTorch's errors stay in one place. */

/* attribute is None (the class default, or an instance value); -1 on error */
static int
attr_is_none(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    int r = v == Py_None;
    Py_DECREF(v);
    return r;
}

/* array.dtype.kind == 'f'; -1 on error */
static int
is_float_array(PyObject *d)
{
    PyObject *dt = PyObject_GetAttr(d, s_dtype);
    if (dt == NULL)
        return -1;
    PyObject *kind = PyObject_GetAttr(dt, s_kind);
    Py_DECREF(dt);
    if (kind == NULL)
        return -1;
    int r = PyUnicode_Check(kind) && PyUnicode_GET_LENGTH(kind) == 1 && PyUnicode_READ_CHAR(kind, 0) == 'f';
    Py_DECREF(kind);
    return r;
}

static inline int
is_tensor(PyObject *t)
{
    return PyObject_TypeCheck(t, tensor_type) && SLOT(t, t_data) != NULL && SLOT(t, t_device) != NULL
           && SLOT(t, t_requires_grad) != NULL && SLOT(t, t_version) != NULL && SLOT(t, t_grad_fn) != NULL;
}

/* Tensor.__rmul__(self, other): a Python float times a float tensor with nothing to record is one NumPy
   multiply (pointwise.rmul's first branch). */
static PyObject *
t_rmul(PyObject *self, PyObject *other)
{
    if (PyFloat_CheckExact(other) && is_tensor(self) && SLOT(self, t_requires_grad) == Py_False
        && PyList_GET_ITEM(fw_enabled, 0) == Py_False) {
        PyObject *d = SLOT(self, t_data);
        int f = is_float_array(d);
        if (f < 0)
            return NULL;
        if (f) {
            PyObject *r = PyNumber_Multiply(d, other);
            if (r == NULL)
                return NULL;
            PyObject *t = make_tensor(r, SLOT(self, t_device), Py_False, Py_None, zero);
            Py_DECREF(r);
            return t;
        }
    }
    return PyObject_CallFunctionObjArgs(py_rmul, self, other, NULL);
}

/* Tensor.grad (getter): a leaf's .grad; a non-leaf (which may warn) goes to the Python getter. */
static PyObject *
t_grad_get(PyObject *self, PyObject *unused)
{
    if (is_tensor(self) && SLOT(self, t_grad_fn) == Py_None)
        return PyObject_GetAttr(self, s_grad);
    return PyObject_CallOneArg(py_grad_get, self);
}

/* Tensor.grad (setter): None clears it; a tensor is checked by the Python setter. */
static PyObject *
t_grad_set(PyObject *self, PyObject *value)
{
    if (value == Py_None && is_tensor(self)) {
        if (PyObject_SetAttr(self, s_grad, Py_None) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return PyObject_CallFunctionObjArgs(py_grad_set, self, value, NULL);
}

/* self op= other in place on the cpu array (inplace._arith_method's operator, its first case): a Python
   float/int or a same-dtype, same-shape cpu tensor without a tangent, into a float cpu tensor without one,
   under no_grad, not an inference tensor; anything else is the Python operator's. */
static PyObject *
inplace_arith(PyObject *self, PyObject *other, binaryfunc iop, PyObject *python_op)
{
    if (!is_tensor(self) || SLOT(self, t_device) != cpu_device)
        goto python;
    PyObject *d = SLOT(self, t_data), *od;
    if (PyFloat_CheckExact(other) || PyLong_CheckExact(other))
        od = other;
    else if (is_tensor(other) && SLOT(other, t_device) == cpu_device) {
        od = SLOT(other, t_data);
        PyObject *da = PyObject_GetAttr(d, s_dtype), *db = PyObject_GetAttr(od, s_dtype);
        int same = da != NULL && da == db;
        Py_XDECREF(da);
        Py_XDECREF(db);
        if (!same) {
            if (PyErr_Occurred())
                return NULL;
            goto python;
        }
        PyObject *sa = PyObject_GetAttr(d, s_shape), *sb = PyObject_GetAttr(od, s_shape);
        int eq = sa == NULL || sb == NULL ? -1 : PyObject_RichCompareBool(sa, sb, Py_EQ);
        Py_XDECREF(sa);
        Py_XDECREF(sb);
        if (eq < 0)
            return NULL;
        int no_tangent = attr_is_none(other, s_fw_grad);
        if (no_tangent < 0)
            return NULL;
        if (!eq || !no_tangent)
            goto python;
    }
    else
        goto python;
    /* requires_grad matters only with grad mode on, which the Python operator handles */
    PyObject *enabled = PyObject_GetAttr(grad_state, s_enabled);
    if (enabled == NULL)
        return NULL;
    int on = enabled != Py_False;
    Py_DECREF(enabled);
    if (on)  /* grad mode on: _check_inplace's checks first, in Python */
        goto python;
    int inf = attr_is_none(self, s_fw_grad);
    if (inf < 0)
        return NULL;
    if (!inf)
        goto python;
    PyObject *flag = PyObject_GetAttr(self, s_is_inference);  /* an inference tensor is refused, in Python */
    if (flag == NULL)
        return NULL;
    int plain = flag == Py_False;
    Py_DECREF(flag);
    int f = is_float_array(d);
    if (f < 0)
        return NULL;
    if (!plain || !f)
        goto python;
    PyObject *r = iop(d, od);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    PyObject *ver = SLOT(self, t_version);  /* self._version[0] += 1 */
    PyObject *v = PyList_Check(ver) && PyList_GET_SIZE(ver) ? PyList_GET_ITEM(ver, 0) : NULL;
    PyObject *v1 = v == NULL ? NULL : PyNumber_Add(v, one);
    if (v1 == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "_fastpath: a tensor's _version is not [int]");
        return NULL;
    }
    PyList_SetItem(ver, 0, v1);
    Py_INCREF(self);
    return self;
python:
    return PyObject_CallFunctionObjArgs(python_op, self, other, NULL);
}

static PyObject *t_iadd(PyObject *self, PyObject *other) { return inplace_arith(self, other, PyNumber_InPlaceAdd, py_iadd); }
static PyObject *t_isub(PyObject *self, PyObject *other) { return inplace_arith(self, other, PyNumber_InPlaceSubtract, py_isub); }
static PyObject *t_imul(PyObject *self, PyObject *other) { return inplace_arith(self, other, PyNumber_InPlaceMultiply, py_imul); }

static PyMethodDef tensor_defs[] = {
    {"__rmul__", t_rmul, METH_O, NULL},
    {"__iadd__", t_iadd, METH_O, NULL},
    {"__isub__", t_isub, METH_O, NULL},
    {"__imul__", t_imul, METH_O, NULL},
    {"grad_get", t_grad_get, METH_NOARGS, NULL},
    {"grad_set", t_grad_set, METH_O, NULL},
};
#define N_TENSOR_DEFS (sizeof(tensor_defs) / sizeof(tensor_defs[0]))

/* methods(fallbacks) -> {name: method descriptor of Tensor}: the C methods above, each given the Python
   function it falls back to (fallbacks: the same names). */
static PyObject *
methods(PyObject *self, PyObject *fallbacks)
{
    if (!PyDict_Check(fallbacks) || tensor_type == NULL) {
        PyErr_SetString(PyExc_TypeError, "_fastpath.methods: a dict of fallbacks, after init()");
        return NULL;
    }
    PyObject **slots[] = {&py_rmul, &py_iadd, &py_isub, &py_imul, &py_grad_get, &py_grad_set};
    PyObject *got[N_TENSOR_DEFS];
    for (size_t i = 0; i < N_TENSOR_DEFS; i++) {
        got[i] = PyDict_GetItemString(fallbacks, tensor_defs[i].ml_name);
        if (got[i] == NULL) {
            PyErr_Format(PyExc_KeyError, "_fastpath.methods: no fallback for %s", tensor_defs[i].ml_name);
            return NULL;
        }
    }
    PyObject *out = PyDict_New();
    for (size_t i = 0; out != NULL && i < N_TENSOR_DEFS; i++) {
        PyObject *descr = PyDescr_NewMethod(tensor_type, &tensor_defs[i]);
        if (descr == NULL || PyDict_SetItemString(out, tensor_defs[i].ml_name, descr) < 0)
            Py_CLEAR(out);
        Py_XDECREF(descr);
    }
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < N_TENSOR_DEFS; i++) {
        Py_INCREF(got[i]);
        Py_XSETREF(*slots[i], got[i]);
    }
    return out;
}

/* ---- engine._drain: backward()'s loop over the graph ----------------------------------------------------- */

/* set by init_drain() */
static PyObject *accumulate_grad_type, *anomaly_enabled, *heap_push, *heap_pop, *quiet_enter, *quiet_exit,
    *run_node_raw, *run_node, *checked_arrays, *accumulate_array, *add_grad;
static PyObject *s_plain, *s_backward_raw, *s_backward_unwrapped, *s_pre_hooks, *s_tensor_hooks, *s_post_hooks,
    *s_variable_ref, *s_n_out, *s_release, *s_next_functions, *s_seq, *s_released, *s_input_meta;

static PyObject *
init_drain(PyObject *self, PyObject *args)
{
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
static PyObject *
drain(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
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

static PyMethodDef module_methods[] = {
    {"init", init, METH_VARARGS, "Bind the Tensor and Node classes and the Python state the fast path reads."},
    {"make", (PyCFunction)(void (*)(void))make, METH_FASTCALL, "Tensor._make in C."},
    {"record", (PyCFunction)(void (*)(void))record, METH_FASTCALL, "Op._record in C (common case)."},
    {"init_apply", init_apply, METH_VARARGS, "Bind the Python Op.apply, the forward-AD flag, the ValueError hook."},
    {"apply", (PyCFunction)(void (*)(void))apply, METH_FASTCALL | METH_KEYWORDS, "Op.apply in C (common case)."},
    {"methods", methods, METH_O, "Tensor methods in C, given the Python ones they fall back to."},
    {"init_drain", init_drain, METH_VARARGS, "Bind AccumulateGrad and the engine's helpers for drain()."},
    {"drain", (PyCFunction)(void (*)(void))drain, METH_FASTCALL, "engine._drain in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastpath", NULL, -1, module_methods};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    zero = PyLong_FromLong(0);
    one = PyLong_FromLong(1);
#define STR(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    STR(s_plain, "_plain");
    STR(s_backward_raw, "backward_raw");
    STR(s_backward_unwrapped, "_backward_unwrapped");
    STR(s_pre_hooks, "_pre_hooks");
    STR(s_tensor_hooks, "_tensor_hooks");
    STR(s_post_hooks, "_post_hooks");
    STR(s_variable_ref, "_variable_ref");
    STR(s_n_out, "_n_out");
    STR(s_release, "_release");
    STR(s_next_functions, "next_functions");
    STR(s_seq, "_seq");
    STR(s_released, "_released");
    STR(s_input_meta, "_input_meta");
#undef STR
    s_grad = PyUnicode_InternFromString("_grad");
    s_fw_grad = PyUnicode_InternFromString("_fw_grad");
    s_kind = PyUnicode_InternFromString("kind");
    s_forward = PyUnicode_InternFromString("forward");
    s_enabled = PyUnicode_InternFromString("enabled");
    s_inference = PyUnicode_InternFromString("inference");
    s_is_inference = PyUnicode_InternFromString("_is_inference");
    s_accum = PyUnicode_InternFromString("_accum");
    s_shape = PyUnicode_InternFromString("shape");
    s_dtype = PyUnicode_InternFromString("dtype");
    s_save = PyUnicode_InternFromString("save");
    s_save_result = PyUnicode_InternFromString("save_result");
    if (!zero || !one || !s_grad || !s_fw_grad || !s_kind || !s_forward || !s_enabled || !s_inference || !s_is_inference || !s_accum || !s_shape || !s_dtype || !s_save || !s_save_result)
        return NULL;
    return PyModule_Create(&module);
}
