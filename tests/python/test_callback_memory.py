# A Python function called from C 100,000 times (callNTimes of the example library loops in C)
# must not grow the process: each call converts arguments, runs Python and sets a result, so a
# leaked reference or buffer per call would show as megabytes of RSS here.
import gc
import os
import unittest

from ttpy import tt, rss_bytes

CALLS = 100_000
SLACK = 2 << 20  # 2 MiB: allocator noise; a 24-byte leak per call would already be 2.4 MB


# Under AddressSanitizer (libasan preloaded into python) freed blocks sit in a quarantine, so RSS
# grows by design; the sanitizer's own leak checker is the test there.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")


@unittest.skipIf(UNDER_ASAN, "RSS is not meaningful under AddressSanitizer's quarantine")
class TestCallbackMemory(unittest.TestCase):
    def measure(self, name, *args):
        call_n = tt.get_global_func("callNTimes")
        call_n(name, 10_000, *args)  # warm up: caches, allocator pools, the thunk itself
        gc.collect()
        before = rss_bytes()
        result = call_n(name, CALLS, *args)
        gc.collect()
        growth = rss_bytes() - before
        self.assertLess(growth, SLACK, "%s grew RSS by %d bytes over %d calls" %
                        (name, growth, CALLS))
        return result

    def test_int_callback(self):
        count = [0]

        def add_one(x):
            count[0] += 1
            return x + 1

        tt.register_func("test.mem_add_one", add_one, override=True)
        self.assertEqual(self.measure("test.mem_add_one", 41), 42)
        self.assertEqual(count[0], 10_000 + CALLS)

    def test_string_callback(self):
        tt.register_func("test.mem_str", lambda s: s + "!" * 64, override=True)
        self.assertEqual(self.measure("test.mem_str", "x"), "x" + "!" * 64)

    def test_array_callback(self):
        tt.register_func("test.mem_arr", lambda a: a, override=True)
        a = tt.nd.empty((16,), "float32")
        self.assertIsInstance(self.measure("test.mem_arr", a), tt.NDArray)

    def test_failing_callback(self):
        def fail(x):
            raise ValueError("no")

        tt.register_func("test.mem_fail", fail, override=True)
        call_n = tt.get_global_func("callNTimes")
        before = rss_bytes()
        for _ in range(2000):
            with self.assertRaises(tt.TVMTuneError):
                call_n("test.mem_fail", 1, 0)
        gc.collect()
        self.assertLess(rss_bytes() - before, SLACK)


if __name__ == "__main__":
    unittest.main()
