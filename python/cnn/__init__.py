"""cnn: a Keras-compatible deep-learning library with a C engine, for CPUs."""
import os as _os

from . import _blas  # noqa: F401  (loads OpenBLAS before the extension needs it)

# A system OpenBLAS initialises when the extension loads: give it the same thread timeout.
_timeout = _os.environ.get("OPENBLAS_THREAD_TIMEOUT")
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", _blas.THREAD_TIMEOUT)
try:
    from . import _C
finally:
    if _timeout is None:
        del _os.environ["OPENBLAS_THREAD_TIMEOUT"]
from .backend import GradientTape, Tensor, Variable

__version__ = "0.1.0"


def config():
    """The BLAS library in use, its kernel (core type), the engine's own register-tile kernel
    for small products ("avx512", "avx2" or "none") and the thread counts."""
    c = _C.config()
    return {
        "blas": c["blas_build"],
        "blas_library": _blas.LIBRARY_PATH if c["blas_build"] == "scipy-openblas32" else "system",
        "blas_kernel": c["blas_corename"],
        "blas_config": c["blas_config"],
        "blas_threads": c["blas_threads"],
        "engine_threads": c["engine_threads"],
        "small_gemm_kernel": c["small_gemm"],
        "version": __version__,
    }


def set_num_threads(n):
    """Threads for OpenBLAS and the engine together (one owner of the cores at a time)."""
    _C.set_num_threads(int(n))


# The Keras-style API, imported on first use (PEP 562): `import cnn` stays close to NumPy's own
# import time, and `cnn.layers`, `from cnn.models import Sequential` etc. work as usual.
_SUBMODULES = ("ops", "activations", "initializers", "losses", "metrics", "optimizers", "callbacks",
               "regularizers", "layers", "models", "utils", "saving", "applications", "datasets")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))


# Threads for OpenBLAS and the engine, now that the import is done (see _blas.py).
_C.set_num_threads(_blas.DEFAULT_THREADS)

__all__ = ["config", "set_num_threads", "GradientTape", "Tensor", "Variable", "ops", "activations",
           "initializers", "losses", "metrics", "regularizers", "optimizers", "callbacks",
           "layers", "models", "utils", "saving", "applications"]
