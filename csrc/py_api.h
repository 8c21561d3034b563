/* py_api.h: the functions and types each py_*.c file contributes to cnn._C. */
#ifndef CNN_PY_API_H
#define CNN_PY_API_H

PyObject *cnn_py_op_forward(PyObject *self, PyObject *args);
PyObject *cnn_py_op_vjp(PyObject *self, PyObject *args);
PyObject *cnn_py_op_names(PyObject *self, PyObject *noargs);

/* Adds the Graph, Tape, Variable/Tensor and Optimizer types to the module. */
int cnn_py_add_types(PyObject *module);

#define CNN_PY_EXTRA_METHODS

#endif
