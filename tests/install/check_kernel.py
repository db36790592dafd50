# Loads a kernel library from `tvm-tune compile` with ctypes.CDLL alone (nothing preloaded),
# checks matmul_256x256x256_f32 against numpy, and that the call left this thread's CPU affinity
# as it was. usage: check_kernel.py LIB.so
import ctypes
import os
import sys

import numpy as np


def aligned(shape):
    """A float32 array whose data is 64-byte aligned, as the kernels require."""
    n = int(np.prod(shape))
    buf = np.empty(n + 16, np.float32)
    off = (-buf.ctypes.data % 64) // 4
    return buf[off:off + n].reshape(shape)


assert "libtt_runtime" not in open("/proc/self/maps").read(), "runtime loaded before the kernel"
before = os.sched_getaffinity(0)
lib = ctypes.CDLL(sys.argv[1])
f = lib.matmul_256x256x256_f32
rng = np.random.default_rng(7)
a, b, c = aligned((256, 256)), aligned((256, 256)), aligned((256, 256))
a[:] = rng.random((256, 256))
b[:] = rng.random((256, 256))
c[:] = np.nan
P = ctypes.c_void_p
rc = f(P(a.ctypes.data), P(b.ctypes.data), P(c.ctypes.data))
assert rc == 0, "kernel returned %d" % rc
err = np.abs(c - a @ b).max()
assert err < 1e-3, "max error %g" % err
after = os.sched_getaffinity(0)
assert before == after, "affinity %s before the call, %s after" % (before, after)
print("ok: %s computes the matmul (max error %.2g), affinity %s unchanged"
      % (sys.argv[1], err, sorted(after)))
