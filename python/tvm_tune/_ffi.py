# The ctypes layer of the Python binding: finds and loads libtt_runtime.so, mirrors the C types of
# include/tt/runtime.h (tt_value, type codes, DLPack structs) and declares every function's
# signature. Everything above this file (function.py, module.py, ndarray.py) calls through _LIB.
import ctypes
import glob
import os

# ---- Type codes (runtime.h: values only grow at the end) ----
INT = 0
UINT = 1
FLOAT = 2
HANDLE = 3
NULL = 4
DTYPE = 5
DEVICE = 6
DLTENSOR = 7
OBJECT = 8
MODULE = 9
FUNC = 10
STR = 11
BYTES = 12
NDARRAY = 13

TYPE_CODE_NAMES = {
    INT: "int", UINT: "uint", FLOAT: "float", HANDLE: "handle", NULL: "null", DTYPE: "dtype",
    DEVICE: "device", DLTENSOR: "DLTensor", OBJECT: "object", MODULE: "module", FUNC: "func",
    STR: "str", BYTES: "bytes", NDARRAY: "NDArray",
}


class TVMTuneError(RuntimeError):
    """An error reported by the C runtime (the text of tt_get_last_error) or by a callback.
    category: the name of its category in runtime.h's TT_ERROR_MAP ("PARSE", "NOT_FOUND", ...),
    "UNKNOWN" when none was given."""

    def __init__(self, message, category=None):
        super().__init__(message)
        self.category = category or "UNKNOWN"


# ---- DLPack (dlpack/dlpack.h, DLPACK_VERSION 60) ----
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


KDL_CPU = 1


class TTValue(ctypes.Union):
    _fields_ = [
        ("v_int64", ctypes.c_int64),
        ("v_float64", ctypes.c_double),
        ("v_handle", ctypes.c_void_p),
        ("v_str", ctypes.c_char_p),
        ("v_type", DLDataType),
        ("v_device", DLDevice),
    ]


class TTBytes(ctypes.Structure):
    # data is c_void_p, not c_char_p: c_char_p would stop at the first NUL when read back.
    _fields_ = [("data", ctypes.c_void_p), ("size", ctypes.c_size_t)]


# int (*)(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
PACKED_CFUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(TTValue),
                                ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_void_p,
                                ctypes.c_void_p)
FIN_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


# ---- Locating the library ----
_LIB_NAME = "libtt_runtime.so"
_LIB_SONAME = "libtt_runtime.so.0"


def _candidates():
    """Paths to try, in order: TT_LIBRARY_PATH (a file or a directory), TT_BUILD_DIR, the
    library directory of an installed package (_install.py, written by cmake --install), then the
    build directories of the source tree this package sits in (python/tvm_tune -> ../..)."""
    out = []

    def add_dir(d):
        for sub in ("runtime", "lib", ""):
            out.append(os.path.abspath(os.path.join(d, sub, _LIB_NAME)))

    env = os.environ.get("TT_LIBRARY_PATH")
    if env:
        for part in env.split(os.pathsep):
            if part.endswith(".so") or os.path.isfile(part):
                out.append(part)
            elif part:
                add_dir(part)
    env = os.environ.get("TT_BUILD_DIR")
    if env:
        add_dir(env)
    try:
        from . import _install
        out.append(os.path.join(_install.LIBDIR, _LIB_SONAME))
    except ImportError:
        pass
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    add_dir(os.path.join(root, "build"))
    # Other build dirs, newest first; sanitizer builds are skipped because an ASan library cannot
    # be dlopen'ed into an uninstrumented python.
    others = [d for d in glob.glob(os.path.join(root, "build*")) if os.path.isdir(d)
              and os.path.basename(d) != "build" and "asan" not in d and "san" not in d]
    for d in sorted(others, key=os.path.getmtime, reverse=True):
        add_dir(d)
    return out


def _load_lib():
    tried = []
    for path in _candidates():
        if os.path.isfile(path):
            # RTLD_GLOBAL: libraries loaded later (examples, generated modules) resolve tt_*
            # against this copy, so there is exactly one registry in the process.
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), path
        tried.append(path)
    try:
        return ctypes.CDLL(_LIB_SONAME, mode=ctypes.RTLD_GLOBAL), _LIB_SONAME
    except OSError as e:
        tried.append("system loader: %s" % e)
    raise ImportError("tvm_tune: cannot find %s; set TT_LIBRARY_PATH or TT_BUILD_DIR. Tried:\n  %s"
                      % (_LIB_NAME, "\n  ".join(tried)))


_LIB, LIB_PATH = _load_lib()

_c = ctypes
_vp = ctypes.c_void_p
_i = ctypes.c_int
_pv = ctypes.POINTER(TTValue)
_pi = ctypes.POINTER(ctypes.c_int)
_pt = ctypes.POINTER(DLTensor)


def _decl(name, restype, *argtypes):
    f = getattr(_LIB, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


tt_func_create = _decl("tt_func_create", _i, PACKED_CFUNC, _vp, FIN_CFUNC, _c.POINTER(_vp))
tt_func_register_global = _decl("tt_func_register_global", _i, _c.c_char_p, _vp, _i)
tt_func_get_global = _decl("tt_func_get_global", _i, _c.c_char_p, _c.POINTER(_vp))
tt_func_list_global = _decl("tt_func_list_global", _i, _pi,
                            _c.POINTER(_c.POINTER(_c.c_char_p)))
tt_func_remove_global = _decl("tt_func_remove_global", _i, _c.c_char_p)
tt_func_call = _decl("tt_func_call", _i, _vp, _pv, _pi, _i, _pv, _pi)
tt_ret_set = _decl("tt_ret_set", _i, _vp, _pv, _pi, _i)
# The two calls on the hot path, without argtypes: ctypes' per-argument type checks cost more than
# the call itself (about 600 ns against 270 ns per tt_func_call). Callers must pass exactly
# c_void_p handles, ctypes arrays and byref() pointers, and Python ints only for `n`.
tt_func_call_fast = _LIB["tt_func_call"]  # [] makes a fresh function object, unlike getattr
tt_func_call_fast.restype = _i
tt_ret_set_fast = _LIB["tt_ret_set"]
tt_ret_set_fast.restype = _i
tt_func_free = _decl("tt_func_free", _i, _vp)
tt_func_retain = _decl("tt_func_retain", _i, _vp)
tt_mod_load_from_file = _decl("tt_mod_load_from_file", _i, _c.c_char_p, _c.c_char_p,
                              _c.POINTER(_vp))
tt_mod_get_function = _decl("tt_mod_get_function", _i, _vp, _c.c_char_p, _i, _c.POINTER(_vp))
tt_mod_import = _decl("tt_mod_import", _i, _vp, _vp)
tt_mod_free = _decl("tt_mod_free", _i, _vp)
tt_mod_retain = _decl("tt_mod_retain", _i, _vp)
tt_mod_format = _decl("tt_mod_format", _c.c_char_p, _vp)
tt_array_alloc = _decl("tt_array_alloc", _i, _c.POINTER(_c.c_int64), _i, DLDataType, DLDevice,
                       _c.POINTER(_pt))
tt_array_free = _decl("tt_array_free", _i, _pt)
tt_array_retain = _decl("tt_array_retain", _i, _pt)
tt_array_nbytes = _decl("tt_array_nbytes", _c.c_int64, _pt)
tt_object_retain = _decl("tt_object_retain", None, _vp)
tt_object_release = _decl("tt_object_release", None, _vp)
tt_object_key = _decl("tt_object_key", _c.c_char_p, _vp)
tt_get_last_error = _decl("tt_get_last_error", _c.c_char_p)
tt_get_last_error_category = _decl("tt_get_last_error_category", _i)
tt_error_category_name = _decl("tt_error_category_name", _c.c_char_p, _i)
# Variadic (printf format): argtypes stay unset; we always pass ("%s", message) so a '%' in the
# message is never interpreted.
tt_error_set = _LIB.tt_error_set
tt_error_set.restype = _i


def last_error():
    msg = tt_get_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def last_error_category():
    """The name of the category of this thread's last C error ("OK" when none)."""
    return tt_error_category_name(tt_get_last_error_category()).decode("ascii")


def check_call(rc):
    """Raises TVMTuneError with the C message and category when a runtime call returned nonzero."""
    if rc != 0:
        raise TVMTuneError(last_error() or "tvm_tune: call failed without a message",
                           last_error_category())


def set_c_error(message):
    """Sets the thread-local C error (for callbacks about to return -1)."""
    tt_error_set(b"%s", message.encode("utf-8", "replace"))


def c_str(s):
    return s.encode("utf-8") if isinstance(s, str) else s
