"""Loads the OpenBLAS shared library of the scipy-openblas32 wheel into the process, so the
extension's BLAS symbols resolve without LD_LIBRARY_PATH. A build against the system OpenBLAS
(CNN_SYSTEM_BLAS=1) needs nothing here."""
import ctypes
import os

try:
    import scipy_openblas32 as _wheel
except ImportError:  # system-BLAS build
    _wheel = None

LIBRARY_PATH = None
if _wheel is not None:
    _libdir = _wheel.get_lib_dir()
    _names = [n for n in os.listdir(_libdir) if n.startswith("lib" + _wheel.get_library()) and ".so" in n]
    if _names:
        LIBRARY_PATH = os.path.join(_libdir, sorted(_names)[0])
        _handle = ctypes.CDLL(LIBRARY_PATH, mode=ctypes.RTLD_GLOBAL)
