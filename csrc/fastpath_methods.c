/* The optimizer step's Tensor methods in C (see fastpath_core.c): lr * p.grad, p -= / += / *=, .grad. */
#include "fastpath.h"

/* the Python methods these replace, bound by methods() */
static PyObject *py_rmul, *py_grad_get, *py_grad_set, *py_iadd, *py_isub, *py_imul;

/* Each does the common case and calls the Python method it replaces for anything else, so the checks and
   PyTorch's errors stay in one place. */

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
PyObject *
fp_methods(PyObject *self, PyObject *fallbacks)
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
