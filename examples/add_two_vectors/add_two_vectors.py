#!/usr/bin/env python3
# The seed example from Python: loads libadd_two_vectors (its load registers addTwoVectors),
# calls it on arrays and on numbers, defines a function in Python and has compiled C code call it
# by name through the registry (callPython). Exit status 0 when every check passes.
#   TT_BUILD_DIR=build python3 examples/add_two_vectors/add_two_vectors.py
import ctypes
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))

import tvm_tune as tt  # noqa: E402


def example_library():
    build = os.environ.get("TT_BUILD_DIR", os.path.join(ROOT, "build"))
    return os.path.join(build, "examples", "add_two_vectors", "libadd_two_vectors.so")


def main():
    # RTLD_GLOBAL as in the brief; what matters is that the library's constructor runs against the
    # libtt_runtime tvm_tune already loaded (same soname, so the loader reuses it: one registry).
    ctypes.CDLL(example_library(), mode=ctypes.RTLD_GLOBAL)
    add = tt.get_global_func("addTwoVectors")

    # Arrays: with numpy when it is there, plain lists otherwise.
    n = 5
    a = tt.nd.from_list([float(i) for i in range(n)], "float32")
    b = tt.nd.from_list([10.0 * i for i in range(n)], "float32")
    c = tt.nd.empty((n,), "float32")
    add(a, b, c)
    print("c = a + b:", c.to_list())
    assert c.to_list() == [11.0 * i for i in range(n)], c.to_list()
    if tt.nd.has_numpy():
        import numpy as np
        x = np.arange(4, dtype="float32")
        z = np.zeros(4, dtype="float32")
        add(x, x, z)  # numpy arrays go as DLTensors over their own memory: z is written in place
        print("numpy z = x + x:", z)
        assert (z == 2 * x).all()

    # Numbers.
    print("40 + 2 =", add(40, 2), "; 1.5 + 2 =", add(1.5, 2))
    assert add(40, 2) == 42 and isinstance(add(40, 2), int)
    assert add(1.5, 2) == 3.5

    # A function defined in Python, called from a compiled function.
    @tt.register_func("py.multiply")
    def multiply(x, y):
        return x * y

    call_python = tt.get_global_func("callPython")
    print("C calls py.multiply(6, 7) =", call_python("py.multiply", 6, 7))
    assert call_python("py.multiply", 6, 7) == 42

    # A module loaded at run time.
    mod = tt.load_module(os.path.join(os.path.dirname(example_library()),
                                      "add_two_vectors_module.so"))
    print("module add_one(41) =", mod["add_one"](41), ";", mod["greet"]("python"))
    assert mod["add_one"](41) == 42 and mod["greet"]("python") == "hello, python"
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
