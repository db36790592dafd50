# Shared setup of the Python tests: puts python/ on sys.path, finds the build dir (TT_BUILD_DIR,
# default build/), loads the add_two_vectors example library so its globals are registered.
import ctypes
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("TT_BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("TT_BUILD_DIR", BUILD)  # tvm_tune looks for libtt_runtime.so there too
sys.path.insert(0, os.path.join(ROOT, "python"))

import tvm_tune as tt  # noqa: E402

EXAMPLE_DIR = os.path.join(BUILD, "examples", "add_two_vectors")
EXAMPLE_LIB = os.path.join(EXAMPLE_DIR, "libadd_two_vectors.so")
EXAMPLE_MODULE = os.path.join(EXAMPLE_DIR, "add_two_vectors_module.so")

# Loading it runs its constructors: addTwoVectors, callPython and callNTimes get registered.
_example = ctypes.CDLL(EXAMPLE_LIB, mode=ctypes.RTLD_GLOBAL)

try:
    import numpy  # noqa: F401
    HAVE_NUMPY = True
except ImportError:
    HAVE_NUMPY = False


def rss_bytes():
    """Resident set size of this process, from /proc/self/statm (pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
