/* py_api.h: the functions and types each py_*.c file contributes to cnn._C. */
#ifndef CNN_PY_API_H
#define CNN_PY_API_H

PyObject *cnn_py_op_forward(PyObject *self, PyObject *args);
PyObject *cnn_py_op_vjp(PyObject *self, PyObject *args);
PyObject *cnn_py_op_names(PyObject *self, PyObject *noargs);

/* Adds the Graph, Tape, Variable/Tensor and Optimizer types to the module. */
int cnn_py_add_types(PyObject *module);

PyObject *cnn_py_eager(PyObject *self, PyObject *args);
PyObject *cnn_py_consolidate(PyObject *self, PyObject *list);
PyObject *cnn_py_tapes_active(PyObject *self, PyObject *noargs);
PyObject *cnn_py_wrap(PyObject *self, PyObject *obj);

#define CNN_PY_EXTRA_METHODS                                                                    \
    {"eager", cnn_py_eager, METH_VARARGS,                                                       \
     "eager(name, inputs, ints, floats, training=False, seed=0) -> Tensor, recorded on tapes"}, \
    {"consolidate", cnn_py_consolidate, METH_O, "consolidate(tensors): move into one flat buffer"}, \
    {"tapes_active", cnn_py_tapes_active, METH_NOARGS, "number of GradientTapes recording"},        \
    {"wrap", cnn_py_wrap, METH_O, "wrap(array) -> Tensor viewing a float32 array without a copy"},

#endif
