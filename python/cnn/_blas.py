"""Loads the OpenBLAS shared library of the scipy-openblas32 wheel into the process, so the
extension's BLAS symbols resolve without LD_LIBRARY_PATH.

Import cost matters (`import cnn` should stay near NumPy's own import time):
- the wheel's package is located, not imported: importing it costs ~30 ms (importlib.metadata);
- NumPy is imported first and our OpenBLAS is loaded with one thread: a freshly loaded
  OpenBLAS starts spinning worker threads, which on a 2-core machine halve the speed of the
  rest of the import. `cnn/__init__.py` sets the real thread count once everything is loaded.
A build against the system OpenBLAS (CNN_SYSTEM_BLAS=1) needs nothing here."""
import ctypes
import importlib.util
import os

import numpy  # noqa: F401  (before our OpenBLAS; see above)

LIBRARY_PATH = None
DEFAULT_THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
                      or len(os.sched_getaffinity(0)) or 1)

_spec = importlib.util.find_spec("scipy_openblas32")
if _spec is not None and _spec.origin:
    _libdir = os.path.join(os.path.dirname(_spec.origin), "lib")
    _names = sorted(n for n in os.listdir(_libdir) if n.startswith("libscipy_openblas") and ".so" in n) \
        if os.path.isdir(_libdir) else []
    if _names:
        LIBRARY_PATH = os.path.join(_libdir, _names[0])
        _saved = os.environ.get("OPENBLAS_NUM_THREADS")
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        try:
            _handle = ctypes.CDLL(LIBRARY_PATH, mode=ctypes.RTLD_GLOBAL)
        finally:
            if _saved is None:
                del os.environ["OPENBLAS_NUM_THREADS"]
            else:
                os.environ["OPENBLAS_NUM_THREADS"] = _saved
