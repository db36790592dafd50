# Tests of tvm_tune.function: the global registry from Python, argument and result conversions in
# both directions, Python functions called from C (callPython of the example library), and how
# errors travel: C errors become TVMTuneError, Python exceptions in callbacks become C errors.
import ctypes
import gc
import threading
import unittest

from ttpy import tt
from tvm_tune import _ffi, function as tt_function


def echo(*args):
    return args[0] if len(args) == 1 else list(args)


tt.register_func("test.echo", echo, override=True)


class TestRegistry(unittest.TestCase):
    def test_get_global_func_finds_c_function(self):
        add = tt.get_global_func("addTwoVectors")
        self.assertIsInstance(add, tt.Function)
        self.assertEqual(add(40, 2), 42)

    def test_missing_global_raises_with_name(self):
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("no.such.function")
        self.assertIn("no.such.function", str(cm.exception))
        self.assertIsInstance(cm.exception, RuntimeError)
        self.assertIsNone(tt.get_global_func("no.such.function", allow_missing=True))

    def test_list_global_func_names_sorted(self):
        names = tt.list_global_func_names()
        for n in ("addTwoVectors", "callPython", "callNTimes", "test.echo"):
            self.assertIn(n, names)
        self.assertEqual(names, sorted(names))

    def test_register_as_decorator_returns_the_python_function(self):
        @tt.register_func("test.deco_add")
        def deco_add(x, y):
            return x + y

        self.assertEqual(deco_add(1, 2), 3)  # still a plain Python function
        self.assertEqual(tt.get_global_func("test.deco_add")(3, 4), 7)

    def test_register_as_call_and_override(self):
        tt.register_func("test.value", lambda: 1)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.register_func("test.value", lambda: 2)
        self.assertIn("test.value", str(cm.exception))
        self.assertEqual(tt.get_global_func("test.value")(), 1)
        tt.register_func("test.value", lambda: 2, override=True)
        self.assertEqual(tt.get_global_func("test.value")(), 2)

    def test_remove_global(self):
        tt.register_func("test.removed", lambda: 0)
        tt.remove_global_func("test.removed")
        self.assertIsNone(tt.get_global_func("test.removed", allow_missing=True))
        with self.assertRaises(tt.TVMTuneError):
            tt.remove_global_func("test.removed")


class TestConversions(unittest.TestCase):
    def setUp(self):
        self.echo = tt.get_global_func("test.echo")
        self.call_python = tt.get_global_func("callPython")

    def roundtrip(self, value):
        # Python -> C -> Python callback -> C -> Python, and the same driven from C.
        self.assertEqual(self.echo(value), value)
        self.assertEqual(self.call_python("test.echo", value), value)

    def test_scalars(self):
        for v in (0, 1, -7, 2**63 - 1, -2**63, 0.5, -1e300, "", "text", "ünïcode ✓",
                  b"", b"a\x00b", None):
            with self.subTest(v=v):
                self.roundtrip(v)
        self.assertIs(type(self.echo(3)), int)
        self.assertIs(type(self.echo(3.0)), float)
        self.assertIs(self.echo(True), 1)  # bools go as ints

    def test_uint64_and_too_big(self):
        self.assertEqual(self.echo(2**64 - 1), 2**64 - 1)
        with self.assertRaises(TypeError):
            self.echo(2**64)

    def test_dtype_and_device(self):
        self.assertEqual(self.echo(tt.DataType("float32")), "float32")
        self.assertIsInstance(self.echo(tt.DataType("int8x4")), tt.DataType)
        self.assertEqual(self.echo(tt.Device(1, 0)), (1, 0))

    def test_many_arguments(self):
        # More arguments than the cached array sizes, mixed types, each read back by index.
        tt.register_func("test.nth", lambda k, *rest: rest[k], override=True)
        nth = tt.get_global_func("test.nth")
        args = list(range(20)) + ["s", 1.5, None, b"x"]
        for k, v in enumerate(args):
            self.assertEqual(nth(k, *args), v)

    def test_unsupported_argument_type(self):
        with self.assertRaises(TypeError) as cm:
            self.echo(object())
        self.assertIn("object", str(cm.exception))

    def test_functions_as_arguments_and_results(self):
        tt.register_func("test.apply", lambda f, x: f(x), override=True)
        apply = tt.get_global_func("test.apply")
        mod = tt.load_module(__import__("ttpy").EXAMPLE_MODULE)
        self.assertEqual(apply(mod["add_one"], 41), 42)  # a C function through Python
        self.assertEqual(apply(lambda x: x * 2, 21), 42)  # a temporary Python function
        returned = self.echo(tt.get_global_func("addTwoVectors"))
        self.assertIsInstance(returned, tt.Function)
        self.assertEqual(returned(1, 2), 3)
        tt.register_func("test.make_adder", lambda k: (lambda x: x + k), override=True)
        adder = tt.get_global_func("test.make_adder")(10)
        self.assertEqual(adder(5), 15)

    def test_temporary_functions_are_released(self):
        apply = tt.get_global_func("callPython")
        tt.register_func("test.apply2", lambda f, x: f(x), override=True)
        gc.collect()
        before = len(tt_function._CALLBACKS)
        for i in range(50):
            self.assertEqual(apply("test.apply2", lambda x: x + i, 1), 1 + i)
        gc.collect()
        self.assertEqual(len(tt_function._CALLBACKS), before)

    def test_module_as_argument_and_result(self):
        mod = tt.load_module(__import__("ttpy").EXAMPLE_MODULE)
        back = self.echo(mod)
        self.assertIsInstance(back, tt.Module)
        self.assertEqual(back["add_one"](1), 2)


class TestErrors(unittest.TestCase):
    def test_c_error_message(self):
        add = tt.get_global_func("addTwoVectors")
        with self.assertRaises(tt.TVMTuneError) as cm:
            add("x", 1)
        self.assertIn("argument 0 is a str, expected a number", str(cm.exception))
        with self.assertRaises(tt.TVMTuneError) as cm:
            add(1)
        self.assertIn("got 1 arguments", str(cm.exception))
        with self.assertRaises(tt.TVMTuneError) as cm:
            add(2**62, 2**62)
        self.assertIn("overflows", str(cm.exception))

    def test_python_exception_becomes_c_error(self):
        def fail(x):
            raise ValueError("bad value %d" % x)

        tt.register_func("test.fail", fail, override=True)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("callPython")("test.fail", 7)
        msg = str(cm.exception)
        self.assertIn("PythonError: ValueError: bad value 7", msg)
        self.assertIn("callPython('test.fail')", msg)  # wrapped by the C caller
        self.assertIsInstance(cm.exception.__cause__, ValueError)
        # Called directly from Python, the same message, and the original as the cause.
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("test.fail")(3)
        self.assertIn("PythonError: ValueError: bad value 3", str(cm.exception))

    def test_message_with_percent_signs(self):
        # The message reaches tt_error_set as an argument of "%s", never as the format.
        def fail():
            raise RuntimeError("100%s %d %n done")

        tt.register_func("test.fail_percent", fail, override=True)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("test.fail_percent")()
        self.assertIn("RuntimeError: 100%s %d %n done", str(cm.exception))

    def test_errors_are_per_thread(self):
        # tt_get_last_error is thread-local: concurrent failing and succeeding calls from several
        # threads each see their own message.
        def fail(k):
            raise ValueError("thread %d" % k)

        tt.register_func("test.fail_k", fail, override=True)
        call_python = tt.get_global_func("callPython")
        problems = []

        def worker(k):
            for _ in range(300):
                try:
                    call_python("test.fail_k", k)
                    problems.append("no error")
                except tt.TVMTuneError as e:
                    if "ValueError: thread %d" % k not in str(e):
                        problems.append(str(e))
                if call_python("test.echo", k) != k:
                    problems.append("echo")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(problems, [])

    def test_c_caller_sees_minus_one_and_message(self):
        def fail():
            raise KeyError("missing")

        tt.register_func("test.fail_raw", fail, override=True)
        f = tt.get_global_func("test.fail_raw")
        ret = _ffi.TTValue()
        code = ctypes.c_int()
        rc = _ffi.tt_func_call(f.handle, None, None, 0, ctypes.byref(ret), ctypes.byref(code))
        self.assertEqual(rc, -1)
        self.assertIn("PythonError: KeyError", _ffi.last_error())

    def test_unconvertible_callback_result(self):
        tt.register_func("test.bad_result", lambda: object(), override=True)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("test.bad_result")()
        self.assertIn("PythonError: TypeError", str(cm.exception))

    def test_callpython_errors(self):
        call_python = tt.get_global_func("callPython")
        with self.assertRaises(tt.TVMTuneError) as cm:
            call_python("no.such.global", 1)
        self.assertIn("no global function named 'no.such.global'", str(cm.exception))
        with self.assertRaises(tt.TVMTuneError):
            call_python(1, 2)

    def test_wrong_arg_count_to_python_function(self):
        tt.register_func("test.two", lambda x, y: x + y, override=True)
        with self.assertRaises(tt.TVMTuneError) as cm:
            tt.get_global_func("test.two")(1)
        self.assertIn("PythonError: TypeError", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
