"""Loads the OpenBLAS shared library of the scipy-openblas32 wheel into the process, so the
extension's BLAS symbols resolve without LD_LIBRARY_PATH.

Import cost matters (`import cnn` should stay near NumPy's own import time):
- the wheel's package is located, not imported: importing it costs ~30 ms (importlib.metadata);
- NumPy is imported first and our OpenBLAS is loaded with one thread: a freshly loaded
  OpenBLAS starts spinning worker threads, which on a 2-core machine halve the speed of the
  rest of the import. `cnn/__init__.py` sets the real thread count once everything is loaded.
- OpenBLAS's idle worker threads keep spinning (OPENBLAS_THREAD_TIMEOUT=28, 2**28 rounds)
  long after each threaded product, so during training they never sleep and take a core
  from the engine's own threads (the recurrent ops split the batch across cores). 14 lets
  them sleep after a short idle spell. A value the user set is kept. Measured at 2 threads
  (bench/RESULTS.md's machine): LSTM(64) training step 6.6 ms with 28, 2.9-3.1 ms with 14
  (2.8 with 4); the MLP step, whose products come back to back, 0.52 ms with 28, 0.58 ms with
  14 (0.66 with 4): 14 is the trade.
A build against the system OpenBLAS (CNN_SYSTEM_BLAS=1) needs only the last point, which
`cnn/__init__.py` applies before the extension (and that library) loads."""
import ctypes
import importlib.util
import os

import numpy  # noqa: F401  (before our OpenBLAS; see above)

THREAD_TIMEOUT = "14"  # OPENBLAS_THREAD_TIMEOUT for our OpenBLAS (see above)

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
        _saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS",
                                                  "OPENBLAS_THREAD_TIMEOUT")}
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", THREAD_TIMEOUT)
        try:
            _handle = ctypes.CDLL(LIBRARY_PATH, mode=ctypes.RTLD_GLOBAL)
        finally:
            for _key, _value in _saved.items():
                if _value is None:
                    del os.environ[_key]
                else:
                    os.environ[_key] = _value
