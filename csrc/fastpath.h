/* csrc/fastpath.h: what the C fast path's three files share (see csrc/fastpath_core.c). */
#ifndef AUTOGRAD_GPU_FASTPATH_H
#define AUTOGRAD_GPU_FASTPATH_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* bound by init() (fastpath_core.c) */
extern PyTypeObject *tensor_type, *node_type;
extern PyObject *grad_state, *cpu_device, *fw_enabled;
/* slot offsets: Tensor */
extern Py_ssize_t t_data, t_device, t_requires_grad, t_grad_fn, t_output_nr, t_version;
/* slot offsets: Node */
extern Py_ssize_t n_seq, n_released, n_result, n_next_functions, n_needs_input_grad, n_input_meta, n_saved,
    n_saved_versions, n_dev;
/* constants and interned attribute names, made at import */
extern PyObject *zero, *one, *s_enabled, *s_is_inference, *s_shape, *s_dtype, *s_grad, *s_fw_grad, *s_kind;

/* an interned attribute name into var, or return NULL (in a function returning an object) */
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

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

/* fastpath_core.c */
PyObject *make_tensor(PyObject *data, PyObject *device, PyObject *requires_grad, PyObject *grad_fn,
                      PyObject *output_nr);
int attr_is_none(PyObject *obj, PyObject *name);

/* the module's functions, one file each part */
PyObject *fp_methods(PyObject *self, PyObject *fallbacks);                             /* fastpath_methods.c */
PyObject *fp_init_drain(PyObject *self, PyObject *args);                               /* fastpath_drain.c */
PyObject *fp_drain(PyObject *self, PyObject *const *args, Py_ssize_t nargs);           /* fastpath_drain.c */

#endif
