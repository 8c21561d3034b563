/* py_types.c: registers the binding's types on the module. */
#include "binding.h"
#include "py_api.h"

int cnn_py_add_types(PyObject *m) {
    struct { const char *name; PyTypeObject *type; } types[] = {
        {"Tensor", &cnn_PyTensor_Type}, {"Graph", &cnn_PyGraph_Type}, {"Program", &cnn_PyProgram_Type},
        {"Tape", &cnn_PyTape_Type},     {"Optimizer", &cnn_PyOptimizer_Type},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyType_Ready(types[i].type) < 0) return -1;
        Py_INCREF(types[i].type);
        if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].type) < 0) return -1;
    }
    return 0;
}
