# Tests of tvm_tune.ndarray: allocation, dtype strings, round trips through plain lists (always)
# and numpy (skipped without it), and addTwoVectors of the example on NDArrays, numpy arrays and
# DLTensors, with its error messages. Without-numpy behaviour is also checked in a subprocess
# that hides numpy, so it is covered whichever interpreter runs the suite.
import ctypes
import os
import subprocess
import sys
import unittest

import ttpy
from ttpy import tt, HAVE_NUMPY

if HAVE_NUMPY:
    import numpy as np


class TestDtype(unittest.TestCase):
    def test_parse_and_print(self):
        for s in ("float32", "float64", "int8", "int64", "uint8", "uint16x4", "bool",
                  "bfloat16", "handle"):
            with self.subTest(s=s):
                self.assertEqual(tt.nd.dtype_to_str(tt.nd.dtype_from_str(s)),
                                 "handle64" if s == "handle" else s)
        t = tt.nd.dtype_from_str("float32")
        self.assertEqual((t.code, t.bits, t.lanes), (2, 32, 1))

    def test_bad_dtype(self):
        with self.assertRaises(ValueError) as cm:
            tt.nd.empty((2,), "floot32")
        self.assertIn("floot32", str(cm.exception))


class TestNDArrayLists(unittest.TestCase):
    def test_empty_is_zeroed(self):
        a = tt.nd.empty((2, 3), "float32")
        self.assertEqual(a.shape, (2, 3))
        self.assertEqual(a.dtype, "float32")
        self.assertEqual(a.nbytes, 24)
        self.assertEqual(a.device, (1, 0))
        self.assertEqual(a.to_list(), [[0.0] * 3] * 2)

    def test_roundtrip_1d_and_nd(self):
        cases = [([1.5, -2.0, 3.25], "float32"), ([1, -2, 3], "int32"), ([[1, 2], [3, 4]], "int64"),
                 ([[[0.5], [1.5]], [[2.5], [3.5]]], "float64"), ([255, 0, 7], "uint8"), ([], "float32")]
        for data, dtype in cases:
            with self.subTest(data=data, dtype=dtype):
                a = tt.nd.from_list(data, dtype)
                self.assertEqual(a.dtype, dtype)
                self.assertEqual(a.to_list(), data)

    def test_default_dtypes_and_scalar(self):
        self.assertEqual(tt.nd.from_list([1, 2]).dtype, "int64")
        self.assertEqual(tt.nd.from_list([1, 2.5]).dtype, "float64")
        s = tt.nd.from_list(4.5, "float32")
        self.assertEqual((s.shape, s.to_list()), ((), 4.5))
        self.assertEqual(tt.nd.array([[1.0, 2.0]], "float32").to_list(), [[1.0, 2.0]])

    def test_ragged_list(self):
        with self.assertRaises(ValueError) as cm:
            tt.nd.from_list([[1, 2], [3]], "int32")
        self.assertIn("ragged", str(cm.exception))

    def test_copy_between_arrays(self):
        a = tt.nd.from_list([1.0, 2.0], "float32")
        b = tt.nd.array(a)
        a.copyfrom([5.0, 6.0])
        self.assertEqual((a.to_list(), b.to_list()), ([5.0, 6.0], [1.0, 2.0]))
        with self.assertRaises(ValueError):
            a.copyfrom([1.0, 2.0, 3.0])

    def test_add_two_vectors(self):
        add = tt.get_global_func("addTwoVectors")
        n = 1000
        a = tt.nd.from_list([float(i) for i in range(n)], "float32")
        b = tt.nd.from_list([0.25 * i for i in range(n)], "float32")
        c = tt.nd.empty((n,), "float32")
        self.assertIsNone(add(a, b, c))
        self.assertEqual(c.to_list(), [1.25 * i for i in range(n)])

    def test_add_two_vectors_dltensor(self):
        # A DLTensor built by hand over ctypes memory, as any C library would pass one.
        buf = [(ctypes.c_float * 3)(1, 2, 3) for _ in range(3)]
        shape = (ctypes.c_int64 * 1)(3)
        ts = []
        for b in buf:
            t = tt.DLTensor()
            t.data = ctypes.addressof(b)
            t.device = tt.DLDevice(1, 0)
            t.ndim = 1
            t.dtype = tt.nd.dtype_from_str("float32")
            t.shape = shape
            ts.append(t)
        tt.get_global_func("addTwoVectors")(ts[0], ts[1], ctypes.pointer(ts[2]))
        self.assertEqual(list(buf[2]), [2.0, 4.0, 6.0])

    def test_add_two_vectors_errors(self):
        add = tt.get_global_func("addTwoVectors")
        f = tt.nd.empty((4,), "float32")
        cases = [
            ((tt.nd.empty((4,), "int32"), f, f), "a must be float32"),
            ((f, f, tt.nd.empty((5,), "float32")), "shapes differ"),
            ((f, tt.nd.empty((2, 2), "float32"), f), "b must be 1-D"),
            ((f, f, 1), "argument 2 is a int, expected a tensor"),
            ((f, f, f, f), "got 4 arguments"),
        ]
        for args, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(tt.TVMTuneError) as cm:
                    add(*args)
                self.assertIn(message, str(cm.exception))

    def test_ndarray_through_python_callback(self):
        # An NDArray passed to a Python function arrives as an NDArray sharing the same memory.
        def fill(arr, value):
            arr.copyfrom([value] * arr.shape[0])
            return arr

        tt.register_func("test.fill", fill, override=True)
        a = tt.nd.empty((3,), "float32")
        back = tt.get_global_func("callPython")("test.fill", a, 2.5)
        self.assertEqual(a.to_list(), [2.5] * 3)
        self.assertEqual(back.to_list(), [2.5] * 3)
        self.assertTrue(back.owned)


@unittest.skipUnless(HAVE_NUMPY, "numpy is not installed")
class TestNDArrayNumpy(unittest.TestCase):
    def test_roundtrip(self):
        for dtype in ("float32", "float64", "int8", "int32", "int64", "uint8", "uint64"):
            with self.subTest(dtype=dtype):
                x = (np.arange(24).reshape(2, 3, 4) % 100).astype(dtype)
                a = tt.nd.array(x)
                self.assertEqual((a.shape, a.dtype), (x.shape, dtype))
                np.testing.assert_array_equal(a.numpy(), x)
                self.assertEqual(a.to_list(), x.tolist())

    def test_non_contiguous_source_is_copied(self):
        x = np.arange(12, dtype="float32").reshape(3, 4).T
        np.testing.assert_array_equal(tt.nd.array(x).numpy(), x)

    def test_add_two_vectors_numpy(self):
        add = tt.get_global_func("addTwoVectors")
        rng = np.random.default_rng(0)
        x = rng.standard_normal(257).astype("float32")
        y = rng.standard_normal(257).astype("float32")
        z = np.zeros_like(x)
        add(x, y, z)  # numpy arrays go as DLTensors over their own memory
        np.testing.assert_array_equal(z, x + y)
        c = tt.nd.empty((257,), "float32")
        add(tt.nd.array(x), tt.nd.array(y), c)
        np.testing.assert_array_equal(c.numpy(), x + y)
        with self.assertRaises(TypeError):
            add(x[::2], y[::2], z[::2])  # not contiguous: refused, not silently wrong

    def test_numpy_float64_rejected(self):
        x = np.zeros(3)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("addTwoVectors")(x, x, x)
        self.assertIn("must be float32", str(cm.exception))

    def test_numpy_scalars(self):
        add = tt.get_global_func("addTwoVectors")
        self.assertEqual(add(np.int64(40), np.int32(2)), 42)
        self.assertEqual(add(np.float32(0.5), 1), 1.5)


class TestWithoutNumpy(unittest.TestCase):
    def test_binding_works_with_numpy_hidden(self):
        script = r"""
import sys
sys.modules["numpy"] = None  # any "import numpy" now raises ImportError
import ttpy
from ttpy import tt
assert not tt.nd.has_numpy()
add = tt.get_global_func("addTwoVectors")
a = tt.nd.from_list([1.0, 2.0], "float32"); c = tt.nd.empty((2,), "float32")
add(a, a, c)
assert c.to_list() == [2.0, 4.0], c.to_list()
assert add(1, 2) == 3 and add(0.5, 0.25) == 0.75
tt.register_func("test.twice", lambda x: x * 2)
assert tt.get_global_func("callPython")("test.twice", "ab") == "abab"
try:
    c.numpy()
except ImportError as e:
    assert "to_list" in str(e)
else:
    raise AssertionError("numpy() without numpy must raise")
print("ok")
"""
        env = dict(os.environ, TT_BUILD_DIR=ttpy.BUILD)
        out = subprocess.run([sys.executable, "-c", script], cwd=os.path.dirname(__file__),
                             env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ok", out.stdout)


if __name__ == "__main__":
    unittest.main()
