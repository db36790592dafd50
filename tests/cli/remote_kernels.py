# Runs every kernel of a library compiled for the RPC device (DEVICE_LIB.so, its .h beside it
# declares the functions and shapes) on the device, and the same kernels of HOST_LIB.so here with
# ctypes, on the same random inputs; the outputs must agree (and a matmul must agree with numpy).
# usage: remote_kernels.py PORT KEY_FILE DEVICE_LIB.so HOST_LIB.so
import ctypes
import os
import re
import sys

import numpy as np

import tvm_tune.rpc as rpc

port, key, dev_lib, host_lib = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def aligned(shape):
    """A float32 array whose data is 64-byte aligned, as the kernels require."""
    n = int(np.prod(shape))
    buf = np.empty(n + 16, np.float32)
    off = (-buf.ctypes.data % 64) // 4
    return buf[off:off + n].reshape(shape)


# "/* name\n *   A float32[4, 5], B float32[5, 6] -> C float32[4, 6]" in the generated header.
header = open(os.path.splitext(dev_lib)[0] + ".h").read()
kernels = re.findall(r"/\* (\w+)\n \*   (.*?) -> \w+ float32\[([\d, ]+)\]", header)
assert kernels, "no kernels declared in the header"
host = ctypes.CDLL(host_lib)
sess = rpc.connect("127.0.0.1", port, key_file=key)
print(sess.device_info())
sess.upload(dev_lib)
mod = sess.load_module(os.path.basename(dev_lib))
rng = np.random.default_rng(3)
for name, params, out_shape in kernels:
    shapes = [tuple(int(d) for d in s.split(","))
              for s in re.findall(r"float32\[([\d, ]+)\]", params)]
    out_shape = tuple(int(d) for d in out_shape.split(","))
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    remote_out = sess.empty(out_shape, "float32")
    mod[name](*[sess.array(x) for x in inputs], remote_out)
    got = remote_out.numpy()
    args = [aligned(s) for s in shapes]
    for a, x in zip(args, inputs):
        a[:] = x
    want = aligned(out_shape)
    rc = getattr(host, name)(*[ctypes.c_void_p(a.ctypes.data) for a in args + [want]])
    assert rc == 0, "%s: host kernel returned %d" % (name, rc)
    err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
    assert err < 1e-4, "%s: device and host differ by %g" % (name, err)
    if name.startswith("matmul"):
        assert np.abs(got - inputs[0] @ inputs[1]).max() < 1e-3, name
    print("ok: %s on the device matches the host (relative error %.1e)" % (name, err))
sess.close()
