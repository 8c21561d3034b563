/* binding.h: helpers shared by the CPython binding files (py_*.c). */
#ifndef CNN_BINDING_H
#define CNN_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NO_IMPORT_ARRAY
#define PY_ARRAY_UNIQUE_SYMBOL cnn_ARRAY_API
#include <numpy/arrayobject.h>

#include "cnn.h"
#include "ops.h"

/* Raises the Python exception that matches a C status, with the engine's message. */
PyObject *cnn_py_raise(cnn_status st);

/* Validates and converts an array-like to a C-contiguous float32 ndarray (no copy when it
 * already is one). Object, complex, string and ragged input raise TypeError naming `what`. */
PyArrayObject *cnn_py_float_array(PyObject *obj, const char *what);

/* A tensor that views a float32 array's memory without copying; the array stays alive
 * while the tensor does. */
cnn_tensor *cnn_py_tensor_from_array(PyArrayObject *arr);

/* An ndarray that views a tensor without copying; it holds a reference to the tensor. */
PyObject *cnn_py_array_from_tensor(cnn_tensor *t);

/* Parses a Python sequence of ints/floats into attributes. */
int cnn_py_parse_attrs(PyObject *ints, PyObject *floats, cnn_attrs *a);

/* A shape from a tuple/list of ints (None -> -1). */
int cnn_py_parse_shape(PyObject *obj, cnn_shape *s, const char *what);
PyObject *cnn_py_shape_tuple(const cnn_shape *s);

/* One eager op call parsed from (name, inputs, ints, floats[, training, seed]) and run:
 * on success the caller owns in[0..n), out and aux (free with cnn_free). */
typedef struct {
    const cnn_op_def *def;
    cnn_attrs attrs;
    cnn_tensor *in[CNN_MAX_INPUTS];
    int n, training;
    unsigned long long seed;
    cnn_tensor *out;
    float *aux;
} cnn_py_eager_call;
int cnn_py_eager_run(PyObject *args, cnn_py_eager_call *c);  /* 0, or -1 with an exception */

/* Looks an op up by name or raises ValueError. */
const cnn_op_def *cnn_py_find_op(const char *name);

#endif

/* ---- binding types ---- */

/* cnn._C.Tensor: a Python handle on an engine tensor (eager values and variables). */
typedef struct {
    PyObject_HEAD
    cnn_tensor *t;
} cnn_PyTensor;

extern PyTypeObject cnn_PyTensor_Type;
PyObject *cnn_py_wrap_tensor(cnn_tensor *t); /* steals the reference */
/* A tensor from a cnn._C.Tensor (retained) or an array-like (converted, zero-copy when it
 * is float32 and contiguous). NULL with an exception set on failure. */
cnn_tensor *cnn_py_as_tensor(PyObject *obj, const char *what);
/* A list of tensors from a sequence; returns the count or -1. Release with cnn_py_release_tensors. */
int cnn_py_tensor_list(PyObject *seq, const char *what, cnn_tensor **out, int max);
void cnn_py_release_tensors(cnn_tensor **t, int n);

extern PyTypeObject cnn_PyGraph_Type, cnn_PyProgram_Type, cnn_PyTape_Type, cnn_PyOptimizer_Type;
