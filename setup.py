"""Builds the C engine and its binding as the extension module cnn._C.

Environment switches (read at build time):
  CNN_SYSTEM_BLAS=1   link the system OpenBLAS (-lopenblas) instead of the scipy-openblas32 wheel
  CNN_NATIVE=1        add -march=native (the default build runs on any x86-64)
  CNN_SANITIZE=1      build with AddressSanitizer + UndefinedBehaviorSanitizer (see .ci/sanitize)
"""
import glob
import os

import numpy
from setuptools import Extension, setup

sources = sorted(glob.glob("csrc/*.c"))
include_dirs = ["csrc", numpy.get_include()]
define_macros = [("NPY_NO_DEPRECATED_API", "NPY_1_20_API_VERSION")]
library_dirs, libraries, extra_link_args = [], [], []
# -fno-math-errno lets sqrtf & co vectorise (we never read errno); -std=c11 keeps GCC from
# contracting a*b+c into FMAs, so results do not depend on the CPU a clone runs on.
compile_args = ["-std=c11", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter",
                "-fvisibility=hidden", "-fno-math-errno", "-D_GNU_SOURCE"]

if os.environ.get("CNN_SYSTEM_BLAS") == "1":
    libraries.append("openblas")
    include_dirs.append("/usr/include/openblas")
else:
    import scipy_openblas32

    include_dirs.append(scipy_openblas32.get_include_dir())
    library_dirs.append(scipy_openblas32.get_lib_dir())
    libraries.append(scipy_openblas32.get_library())
    define_macros.append(("CNN_USE_SCIPY_OPENBLAS", "1"))

if os.environ.get("CNN_NATIVE") == "1":
    compile_args.append("-march=native")

if os.environ.get("CNN_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    compile_args = [a for a in compile_args if a != "-O3"] + ["-O1", "-g"] + san
    extra_link_args += san

setup(
    ext_modules=[
        Extension(
            "cnn._C",
            sources=sources,
            include_dirs=include_dirs,
            define_macros=define_macros,
            library_dirs=library_dirs,
            libraries=libraries,
            extra_compile_args=compile_args,
            extra_link_args=extra_link_args,
            depends=glob.glob("csrc/*.h"),
        )
    ],
)
