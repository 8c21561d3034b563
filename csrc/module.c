/* module.c: the extension module cnn._C: its method table and initialisation. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define PY_ARRAY_UNIQUE_SYMBOL cnn_ARRAY_API
#include <numpy/arrayobject.h>

#include "cnn.h"
#include "ops.h"
#include "py_api.h"
#include "small_gemm.h"

static PyObject *py_config(PyObject *self, PyObject *noargs) {
#ifdef CNN_USE_SCIPY_OPENBLAS
    const char *build = "scipy-openblas32";
#else
    const char *build = "system OpenBLAS";
#endif
    return Py_BuildValue("{s:s,s:s,s:s,s:i,s:i,s:s}", "blas_build", build, "blas_corename", cnn_blas_corename(),
                         "blas_config", cnn_blas_config(), "blas_threads", cnn_blas_num_threads(),
                         "engine_threads", cnn_get_num_threads(), "small_gemm", cnn_small_sgemm_kernel());
}

/* For tests: run the engine's small products on the named register-tile kernel. */
static PyObject *py_select_small_gemm(PyObject *self, PyObject *arg) {
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    if (cnn_small_sgemm_select(name) != 0)
        return PyErr_Format(PyExc_ValueError,
                            "select_small_gemm: kernel '%s' does not run on this CPU (known: "
                            "'avx512', 'avx2', 'none', 'auto')", name);
    return PyUnicode_FromString(cnn_small_sgemm_kernel());
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1) return PyErr_Format(PyExc_ValueError, "set_num_threads: need n >= 1, got %ld", n);
    cnn_set_num_threads((int)n);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"config", py_config, METH_NOARGS, "BLAS and threading configuration."},
    {"set_num_threads", py_set_num_threads, METH_O, "Threads for OpenBLAS and the engine."},
    {"select_small_gemm", py_select_small_gemm, METH_O, "For tests: select_small_gemm(name) -> the kernel now in use."},
    {"op_forward", cnn_py_op_forward, METH_VARARGS, "op_forward(name, inputs, ints, floats, training=False, seed=0)"},
    {"op_vjp", cnn_py_op_vjp, METH_VARARGS, "op_vjp(name, inputs, ints, floats, out_grad, training=False, seed=0)"},
    {"op_names", cnn_py_op_names, METH_NOARGS, "Names of all registered ops."},
    CNN_PY_EXTRA_METHODS
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, .m_name = "cnn._C", .m_doc = "cnn's C engine.", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__C(void) {
    import_array();
    cnn_small_sgemm_available();  // picks the kernel once, before any thread can ask
    if (cnn_ops_init() != CNN_OK) {
        PyErr_SetString(PyExc_ImportError, cnn_last_error());
        return NULL;
    }
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    if (cnn_py_add_types(m) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
