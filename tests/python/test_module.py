# Tests of tvm_tune.module: loading the add_two_vectors example module (a shared library exporting
# PackedFuncs with TT_EXPORT_PACKED), looking functions up, and the error paths of loading.
import os
import tempfile
import unittest

from ttpy import tt, EXAMPLE_MODULE


class TestModule(unittest.TestCase):
    def setUp(self):
        self.mod = tt.load_module(EXAMPLE_MODULE)

    def test_call_functions(self):
        self.assertEqual(self.mod["add_one"](41), 42)
        self.assertEqual(self.mod["add_one"](0.5), 1.5)
        self.assertEqual(self.mod.get_function("greet")("module"), "hello, module")
        self.assertEqual(self.mod.format, "so")
        self.assertIn("add_one", self.mod)

    def test_explicit_format(self):
        self.assertEqual(tt.load_module(EXAMPLE_MODULE, "so")["add_one"](1), 2)

    def test_repeated_lookups(self):
        f1, f2 = self.mod["add_one"], self.mod["add_one"]
        self.assertEqual(f1(1) + f2(2), 5)
        del self.mod  # functions keep working after the Python Module is gone
        self.assertEqual(f1(10), 11)

    def test_missing_function(self):
        with self.assertRaises(tt.TVMTuneError) as cm:
            self.mod["no_such_function"]
        self.assertIn("no_such_function", str(cm.exception))
        self.assertIsNone(self.mod.get_function("no_such_function", allow_missing=True))
        self.assertNotIn("no_such_function", self.mod)

    def test_function_error_message(self):
        with self.assertRaises(tt.TVMTuneError) as cm:
            self.mod["add_one"]("text")
        self.assertIn("add_one: expected one int or float", str(cm.exception))

    def test_missing_file(self):
        path = os.path.join(tempfile.gettempdir(), "tt_no_such_dir", "missing_module.so")
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.load_module(path)
        self.assertIn(path, str(cm.exception))
        # The C error's category reaches Python (runtime.h's TT_ERROR_MAP).
        self.assertEqual(cm.exception.category, "NOT_FOUND")

    def test_unknown_format_category(self):
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.load_module("lib.so", fmt="no-such-format")
        self.assertEqual(cm.exception.category, "UNSUPPORTED")

    def test_not_an_elf_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "not_elf.so")
            with open(path, "w") as f:
                f.write("this is not a shared library\n")
            with self.assertRaises(tt.TVMTuneError) as cm:
                tt.load_module(path)
            self.assertIn(path, str(cm.exception))
            self.assertEqual(cm.exception.category, "UNKNOWN")


if __name__ == "__main__":
    unittest.main()
