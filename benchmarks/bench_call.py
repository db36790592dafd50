#!/usr/bin/env python3
# Cost of one PackedFunc call from Python through the ctypes binding: a C function returning its
# int argument + 1 (add_one of the add_two_vectors example module), against the peers measured in
# the same run (a Python function, a raw ctypes call), and the Python-callback paths.
#   TT_BUILD_DIR=build python3 benchmarks/bench_call.py [iterations]   (default 200000)
import ctypes
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import tvm_tune as tt  # noqa: E402

RUNS = 5


def best_ns(loop, iters):
    best = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter_ns()
        loop(iters)
        best = min(best, (time.perf_counter_ns() - t0) / iters)
    return best


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    build = os.environ.get("TT_BUILD_DIR", os.path.join(ROOT, "build"))
    example = os.path.join(build, "examples", "add_two_vectors")
    ctypes.CDLL(os.path.join(example, "libadd_two_vectors.so"), mode=ctypes.RTLD_GLOBAL)
    add_one = tt.load_module(os.path.join(example, "add_two_vectors_module.so"))["add_one"]

    def py_add_one(x):
        return x + 1

    tt.register_func("bench.pyAddOne", py_add_one, override=True)
    py_packed = tt.get_global_func("bench.pyAddOne")
    call_n = tt.get_global_func("callNTimes")
    # A raw ctypes call of a C function: the floor any ctypes binding pays per call.
    libc = ctypes.CDLL(None)
    labs = libc.labs
    labs.restype = ctypes.c_long
    labs.argtypes = [ctypes.c_long]

    def loop_packed(n):
        x = 0
        for _ in range(n):
            x = add_one(x)
        assert x == n

    def loop_python(n):
        x = 0
        for _ in range(n):
            x = py_add_one(x)
        assert x == n

    def loop_ctypes(n):
        for i in range(n):
            labs(i)

    def loop_py_packed(n):
        x = 0
        for _ in range(n):
            x = py_packed(x)
        assert x == n

    def loop_c_calls_python(n):
        assert call_n("bench.pyAddOne", n, 1) == 2

    rows = [
        ("Python function call (peer)", best_ns(loop_python, iters)),
        ("raw ctypes call of libc labs (peer)", best_ns(loop_ctypes, iters)),
        ("Function(x): C add_one via tt_func_call", best_ns(loop_packed, iters)),
        ("Function(x): Python fn via the registry", best_ns(loop_py_packed, iters)),
        ("C calls a Python fn (callNTimes, per call)", best_ns(loop_c_calls_python, iters)),
    ]
    base = rows[0][1]
    print("bench_call.py: ns per call, best of %d, %d iterations, %s"
          % (RUNS, iters, sys.version.split()[0]))
    print("  %-46s %9s %7s" % ("call", "ns", "ratio"))
    for name, ns in rows:
        print("  %-46s %9.1f %7.2f" % (name, ns, ns / base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
