# Padded conv2d kernels for aarch64 on an input flush against inaccessible pages, under qemu.
# Tasks: the default schedule (scalar border reads) and vectorized and unrolled ones given as
# hand-made log records (masked vector border reads). The input X is exactly one page and sits
# between two PROT_NONE pages on the device (rpc.array_alloc_guarded), so a padded read that
# leaves X faults the session instead of reading a neighbour; every output is compared with numpy.
# guard_probe.c checks that the guard pages are there.
#   usage: python3 test_guard_aarch64.py TVM_TUNE RUN_AARCH64_SERVER GUARD_PROBE_SO
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
import tvm_tune as tt  # noqa: E402

TVM_TUNE = None
SERVER = None
PROBE = None  # guard_probe.c cross-compiled: peek(array, offset)
TARGET = "llvm -mtriple=aarch64-linux-gnu"
# 4 x 16 x 16 float32: 4096 bytes, one page (qemu-user on x86: 4 KiB pages), so X also starts
# right after a guard page
SHAPE = {"N": 1, "C": 4, "H": 16, "W": 16, "K": 3, "R": 3, "S": 3}
VECTOR_Q = [{"s": "split", "stage": "Y", "loop": "q", "factors": [4]},
            {"s": "reorder", "stage": "Y", "loops": ["n", "k", "p", "q.0", "c", "r", "s", "q.1"]},
            {"s": "vectorize", "stage": "Y", "loop": "q.1"}]
UNROLLED = [{"s": "unroll", "stage": "Y", "loop": "r"}, {"s": "unroll", "stage": "Y", "loop": "s"}]


def task(name, pad):
    t = {"op": "conv2d", "name": name, "layout": "NCHW", "stride": [1, 1], "pad": [pad, pad],
         "dilation": [1, 1], "bias": False, "activation": "none", "dtype": "float32"}
    t.update(SHAPE)
    return t


def conv_ref(x, w, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, wd = x.shape
    k, _, r, s = w.shape
    p, q = h + 2 * pad - r + 1, wd + 2 * pad - s + 1
    y = np.zeros((n, k, p, q), dtype=np.float64)
    for i in range(r):
        for j in range(s):
            y += np.einsum("nchw,kc->nkhw", xp[:, :, i:i + p, j:j + q], w[:, :, i, j])
    return y.astype(np.float32)


class GuardTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tt_guard_test_")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_server(self):
        """Starts the aarch64 server; returns (host, port, key file)."""
        key = os.path.join(self.tmp, "dev.key")
        tt.rpc.keygen(key)
        work = os.path.join(self.tmp, "work")
        os.mkdir(work)
        cmd = [SERVER, "--port", "0", "--key-file", key, "--work-dir", work]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        line = self.proc.stdout.readline().decode()
        self.assertTrue(line.startswith("listening on "), line)
        host, port = line.split()[-1].rsplit(":", 1)
        return host, int(port), key

    def tool(self, *args):
        r = subprocess.run([TVM_TUNE] + list(args), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "tvm-tune %s: %s%s" % (args, r.stdout, r.stderr))

    def test_padded_conv_reads_stay_in_x(self):
        tasks = [(task("conv_default", 1), None, 1), (task("conv_vector", 1), VECTOR_Q, 1),
                 (task("conv_vector_pad2", 2), VECTOR_Q, 2),
                 (task("conv_unrolled", 1), UNROLLED, 1)]
        ops = os.path.join(self.tmp, "ops.json")
        with open(ops, "w") as f:
            json.dump({"tasks": [t for t, _, _ in tasks]}, f)
        log = os.path.join(self.tmp, "tune.log")
        records = [{"workload": t, "target": TARGET, "steps": steps, "costs": [1e-4],
                    "trial": i, "flops": 1e6} for i, (t, steps, _) in enumerate(tasks) if steps]
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "cli", "mkrecords.py"),
                            log], input=json.dumps(records), text=True)
        self.assertEqual(r.returncode, 0)
        lib = os.path.join(self.tmp, "conv.so")
        self.tool("compile", ops, "--log", log, "--target", TARGET, "-o", lib)
        host, port, key = self.start_server()
        rng = np.random.default_rng(11)
        with tt.rpc.connect(host, port, key_file=key, timeout=120) as sess:
            sess.upload(lib)
            m = sess.load_module("conv.so")
            for t, _, pad in tasks:
                x = rng.uniform(-1, 1, (1, 4, 16, 16)).astype(np.float32)
                w = rng.uniform(-1, 1, (3, 4, 3, 3)).astype(np.float32)
                y_ref = conv_ref(x, w, pad)
                y = sess.empty(y_ref.shape, "float32")
                m[t["name"]](sess.array(x, guard=True), sess.array(w), y)
                np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-4, atol=1e-4,
                                           err_msg=t["name"])

    def test_guard_pages_are_there(self):
        """A guarded array is usable to its last byte (copies in and out, peek), and the bytes
        right after and right before a one-page array fault (each kills its session)."""
        host, port, key = self.start_server()
        for offset in [None, 4096, -1]:
            with tt.rpc.connect(host, port, key_file=key, timeout=120) as sess:
                sess.upload(PROBE)
                peek = sess.load_module(os.path.basename(PROBE))["peek"]
                x = np.arange(1024, dtype=np.float32)
                a = sess.array(x, guard=True)
                if offset is None:
                    np.testing.assert_array_equal(a.numpy(), x)
                    self.assertEqual(peek(a, 4095), x.view(np.uint8)[4095])
                    self.assertEqual(peek(a, 0), x.view(np.uint8)[0])
                    for shape in [(3, 5), (16,)]:
                        y = np.ones(shape, dtype=np.float32)
                        np.testing.assert_array_equal(sess.array(y, guard=True).numpy(), y)
                    continue
                with self.assertRaisesRegex(tt.TVMTuneError, "lost"):
                    peek(a, offset)


if __name__ == "__main__":
    TVM_TUNE, SERVER, PROBE = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=sys.argv[:1], verbosity=2)
