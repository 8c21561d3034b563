"""Loads the OpenBLAS shared library of the scipy-openblas32 wheel into the process, so the
extension's BLAS symbols resolve without LD_LIBRARY_PATH. The wheel's package is located, not
imported: importing it costs ~30 ms (importlib.metadata), a third of our import budget.
A build against the system OpenBLAS (CNN_SYSTEM_BLAS=1) needs nothing here."""
import ctypes
import importlib.util
import os

LIBRARY_PATH = None
_spec = importlib.util.find_spec("scipy_openblas32")
if _spec is not None and _spec.origin:
    _libdir = os.path.join(os.path.dirname(_spec.origin), "lib")
    _names = sorted(n for n in os.listdir(_libdir) if n.startswith("libscipy_openblas") and ".so" in n) \
        if os.path.isdir(_libdir) else []
    if _names:
        LIBRARY_PATH = os.path.join(_libdir, _names[0])
        _handle = ctypes.CDLL(LIBRARY_PATH, mode=ctypes.RTLD_GLOBAL)
