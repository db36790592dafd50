# PackedFunc from Python: Function (a tt_func handle), the conversions between Python values and
# tt_value/type-code pairs in both directions, the global registry (get_global_func,
# register_func) and the trampoline that lets C call a Python function.
import ctypes
import threading

from . import _ffi
from ._ffi import TTValue, TTBytes, DLDataType, DLDevice, DLTensor, TVMTuneError, check_call
from . import ndarray as _nd
from .ndarray import NDArray

_INT64_MIN, _INT64_MAX, _UINT64_END = -(1 << 63), (1 << 63) - 1, 1 << 64
_INT, _FLOAT, _NULL = _ffi.INT, _ffi.FLOAT, _ffi.NULL
_call = _ffi.tt_func_call_fast
_byref = ctypes.byref
# Argument array types by count (zeroed on creation, so codes default to INT = 0).
_CACHED_ARRAYS = 16
_VALUE_ARRAYS = [TTValue * k for k in range(_CACHED_ARRAYS)]
_CODE_ARRAYS = [ctypes.c_int * k for k in range(_CACHED_ARRAYS)]

# Thunks C may still call. Registered globals live for the process (the registry never hands them
# back to us), so their ctypes callbacks are kept here forever; temporaries made from a callable
# passed as an argument are dropped by _fin when C releases the last reference.
_CALLBACKS = {}
_CALLBACK_LOCK = threading.Lock()
_NEXT_KEY = [1]
# The Python exception behind the last "PythonError" on this thread, so Function.__call__ can
# chain it (raise ... from exc) when it comes back out of C.
_PENDING = threading.local()


class Device(tuple):
    """(device_type, device_id) as in DLPack; kDLCPU is 1."""

    def __new__(cls, device_type=_ffi.KDL_CPU, device_id=0):
        return tuple.__new__(cls, (int(device_type), int(device_id)))


class DataType(str):
    """A dtype string ("float32") that is passed to C as TT_DTYPE rather than TT_STR."""


class Object:
    """A refcounted runtime object (IR node, ...) that came back from C: only its type key and
    handle are visible from Python for now."""

    __slots__ = ("handle",)
    _tt_code = _ffi.OBJECT

    def __init__(self, handle):
        self.handle = ctypes.c_void_p(handle)

    def __del__(self):
        if self.handle and _ffi is not None and _ffi.tt_object_release is not None:
            _ffi.tt_object_release(self.handle)
            self.handle = None

    @property
    def type_key(self):
        key = _ffi.tt_object_key(self.handle)
        return key.decode() if key else ""

    def __repr__(self):
        return "<tvm_tune.Object %s>" % self.type_key


class Function:
    """A PackedFunc. Calling it converts the arguments (int, float, str, bytes, None, Function,
    Module, NDArray, DLTensor, numpy arrays, callables) and the result."""

    __slots__ = ("handle", "name")
    _tt_code = _ffi.FUNC

    def __init__(self, handle, name=None):
        self.handle = ctypes.c_void_p(handle) if not isinstance(handle, ctypes.c_void_p) \
            else handle  # one reference, owned by this object
        self.name = name

    def __del__(self):
        # During interpreter shutdown module globals may already be None.
        if self.handle and _ffi is not None and _ffi.tt_func_free is not None:
            _ffi.tt_func_free(self.handle)
            self.handle = None

    def __call__(self, *args):
        n = len(args)
        values = _VALUE_ARRAYS[n]() if n < _CACHED_ARRAYS else (TTValue * n)()
        codes = _CODE_ARRAYS[n]() if n < _CACHED_ARRAYS else (ctypes.c_int * n)()
        keep = []
        for i in range(n):
            a = args[i]
            t = type(a)
            # ints and floats inline: they are most calls, and _to_c costs a frame
            if t is int and _INT64_MIN <= a <= _INT64_MAX:
                values[i].v_int64 = a
            elif t is float:
                values[i].v_float64 = a
                codes[i] = _FLOAT
            else:
                _to_c(a, values, codes, i, keep)
        ret = TTValue()
        ret_code = ctypes.c_int(_NULL)
        if _call(self.handle, values, codes, n, _byref(ret), _byref(ret_code)) != 0:
            _raise_last()
        code = ret_code.value
        if code == _INT:
            return ret.v_int64
        return _from_c(ret, code, owned=True)

    def __repr__(self):
        return "<tvm_tune.Function %s>" % (self.name or hex(self.handle.value or 0))


def _raise_last():
    msg = _ffi.last_error() or "tvm_tune: call failed without a message"
    category = _ffi.last_error_category()
    cause = getattr(_PENDING, "exc", None)
    _PENDING.exc = None
    err = TVMTuneError(msg, category)
    if cause is not None and "PythonError" in msg:
        raise err from cause
    raise err


# ---- Python -> C ----

def _to_c(a, values, codes, i, keep):
    """Stores Python value a as argument i. keep collects what must outlive the call (encoded
    strings, byte buffers, temporary functions)."""
    t = type(a)
    if t is int or t is bool:
        if _INT64_MIN <= a <= _INT64_MAX:
            values[i].v_int64 = a
            codes[i] = _ffi.INT
        elif 0 <= a < _UINT64_END:
            values[i].v_int64 = a - _UINT64_END  # the uint64 bit pattern
            codes[i] = _ffi.UINT
        else:
            raise TypeError("int %d does not fit in 64 bits" % a)
    elif t is float:
        values[i].v_float64 = a
        codes[i] = _ffi.FLOAT
    elif t is str:
        b = a.encode("utf-8")
        keep.append(b)
        values[i].v_str = b
        codes[i] = _ffi.STR
    elif a is None:
        values[i].v_handle = None
        codes[i] = _ffi.NULL
    elif t is DataType:
        values[i].v_type = _nd.dtype_from_str(a)
        codes[i] = _ffi.DTYPE
    elif t is Device:
        values[i].v_device = DLDevice(a[0], a[1])
        codes[i] = _ffi.DEVICE
    elif isinstance(a, (bytes, bytearray, memoryview)):
        b = bytes(a)
        payload = TTBytes(ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p), len(b))
        keep.append((b, payload))
        values[i].v_handle = ctypes.addressof(payload)
        codes[i] = _ffi.BYTES
    elif isinstance(a, NDArray):
        values[i].v_handle = ctypes.cast(a.handle, ctypes.c_void_p)
        codes[i] = _ffi.NDARRAY if a.owned else _ffi.DLTENSOR
    elif hasattr(a, "_tt_code"):  # Function, Module, Object
        values[i].v_handle = a.handle
        codes[i] = a._tt_code
    elif isinstance(a, DLTensor):
        values[i].v_handle = ctypes.addressof(a)
        codes[i] = _ffi.DLTENSOR
        keep.append(a)
    elif isinstance(a, ctypes._Pointer) and a._type_ is DLTensor:
        values[i].v_handle = ctypes.cast(a, ctypes.c_void_p)
        codes[i] = _ffi.DLTENSOR
    elif isinstance(a, DLDataType):
        values[i].v_type = a
        codes[i] = _ffi.DTYPE
    elif isinstance(a, ctypes.c_void_p):
        values[i].v_handle = a
        codes[i] = _ffi.HANDLE
    elif _nd._np is not None and isinstance(a, _nd._np.ndarray):
        # A numpy array goes as a borrowed DLTensor over its own memory: C writes are visible in
        # the numpy array, with no copy (the seed's zero-copy interop).
        keep.append(_numpy_dltensor(a, values, codes, i))
    elif _nd._np is not None and isinstance(a, _nd._np.generic):
        _to_c(a.item(), values, codes, i, keep)
    elif callable(a):
        f = convert_to_function(a)
        keep.append(f)
        values[i].v_handle = f.handle
        codes[i] = _ffi.FUNC
    elif hasattr(a, "__index__"):
        _to_c(a.__index__(), values, codes, i, keep)
    elif hasattr(a, "__float__"):
        _to_c(float(a), values, codes, i, keep)
    else:
        raise TypeError("tvm_tune: cannot pass a %s to a PackedFunc (argument %d)"
                        % (t.__name__, i))


def _numpy_dltensor(arr, values, codes, i):
    np = _nd._np
    if not arr.flags["C_CONTIGUOUS"]:
        raise TypeError("tvm_tune: numpy argument %d is not C-contiguous; pass "
                        "numpy.ascontiguousarray(x) or nd.array(x)" % i)
    shape = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
    t = DLTensor()
    t.data = arr.ctypes.data
    t.device = DLDevice(_ffi.KDL_CPU, 0)
    t.ndim = arr.ndim
    t.dtype = _nd.dtype_from_str(str(arr.dtype) if arr.dtype != np.bool_ else "bool")
    t.shape = shape
    t.strides = None
    t.byte_offset = 0
    values[i].v_handle = ctypes.addressof(t)
    codes[i] = _ffi.DLTENSOR
    return (t, shape, arr)


# ---- C -> Python ----

def _from_c(v, code, owned):
    """Converts one tt_value. owned: reference-typed values (FUNC, MODULE, OBJECT, NDARRAY) are
    new references we now own (a call's result); otherwise they are borrowed (a callback's
    argument) and we retain them before wrapping."""
    if code == _ffi.INT:
        return v.v_int64
    if code == _ffi.FLOAT:
        return v.v_float64
    if code == _ffi.STR:
        s = v.v_str  # ctypes copies the bytes right here: C may reuse the buffer on next call
        return s.decode("utf-8", "replace") if s is not None else None
    if code == _ffi.NULL:
        return None
    if code == _ffi.FUNC:
        if not v.v_handle:
            return None
        if not owned:
            _ffi.tt_func_retain(v.v_handle)
        return Function(v.v_handle)
    if code == _ffi.NDARRAY:
        if not owned:
            _ffi.tt_array_retain(ctypes.cast(v.v_handle, ctypes.POINTER(DLTensor)))
        return _nd.wrap_dltensor(v.v_handle, owned=True)
    if code == _ffi.DLTENSOR:
        # Borrowed: valid only while the C side keeps it; copy it (nd.array(x)) to keep it.
        return _nd.wrap_dltensor(v.v_handle, owned=False)
    if code == _ffi.MODULE:
        from .module import Module  # module.py imports this file
        if not owned:
            _ffi.tt_mod_retain(v.v_handle)
        return Module(v.v_handle)
    if code == _ffi.BYTES:
        if not v.v_handle:
            return b""
        b = TTBytes.from_address(v.v_handle)
        return ctypes.string_at(b.data, b.size) if b.size else b""
    if code == _ffi.UINT:
        return v.v_int64 & (_UINT64_END - 1)
    if code == _ffi.HANDLE:
        return ctypes.c_void_p(v.v_handle)
    if code == _ffi.DTYPE:
        return DataType(_nd.dtype_to_str(v.v_type))
    if code == _ffi.DEVICE:
        return Device(v.v_device.device_type, v.v_device.device_id)
    if code == _ffi.OBJECT:
        if not owned:
            _ffi.tt_object_retain(v.v_handle)
        return Object(v.v_handle)
    raise TVMTuneError("tvm_tune: unknown type code %d" % code)


# ---- Python functions as PackedFuncs ----

def _trampoline(pyfunc):
    """The C-callable body for pyfunc. Every exception is turned into a C error here: a Python
    exception must never unwind through C frames (ctypes would only print it and return 0)."""

    def body(args, codes, n, ret, resource):
        try:
            pyargs = [_from_c(args[i], codes[i], owned=False) for i in range(n)]
            result = pyfunc(*pyargs)
            value = (TTValue * 1)()
            code = (ctypes.c_int * 1)()
            keep = []
            _to_c(result, value, code, 0, keep)
            if _ffi.tt_ret_set_fast(ctypes.c_void_p(ret), value, code, 1) != 0:
                return -1  # the runtime has set the message
            return 0
        except BaseException as e:  # noqa: B036 - KeyboardInterrupt must not crash C either
            _PENDING.exc = e
            _ffi.set_c_error("PythonError: %s: %s" % (type(e).__name__, e))
            return -1

    return _ffi.PACKED_CFUNC(body)


@_ffi.FIN_CFUNC
def _fin(resource):
    # Runs when C drops the last reference to a temporary function: forget its thunk.
    with _CALLBACK_LOCK:
        _CALLBACKS.pop(resource, None)


def convert_to_function(pyfunc, name=None, permanent=False):
    """Wraps a Python callable as a Function. permanent: the thunk is kept for the life of the
    process (used for registered globals, which C never gives back)."""
    if isinstance(pyfunc, Function):
        return pyfunc
    thunk = _trampoline(pyfunc)
    handle = ctypes.c_void_p()
    with _CALLBACK_LOCK:
        key = _NEXT_KEY[0]
        _NEXT_KEY[0] += 1
        _CALLBACKS[key] = thunk
    if permanent:
        rc = _ffi.tt_func_create(thunk, None, _ffi.FIN_CFUNC(), ctypes.byref(handle))
    else:
        rc = _ffi.tt_func_create(thunk, key, _fin, ctypes.byref(handle))
    if rc != 0:
        with _CALLBACK_LOCK:
            _CALLBACKS.pop(key, None)
        check_call(rc)
    return Function(handle, name)


def get_global_func(name, allow_missing=False):
    """The registered function name; raises TVMTuneError when absent unless allow_missing."""
    out = ctypes.c_void_p()
    check_call(_ffi.tt_func_get_global(_ffi.c_str(name), ctypes.byref(out)))
    if not out.value:
        if allow_missing:
            return None
        raise TVMTuneError("global function '%s' is not registered" % name)
    return Function(out, name)


def list_global_func_names():
    count = ctypes.c_int()
    names = ctypes.POINTER(ctypes.c_char_p)()
    check_call(_ffi.tt_func_list_global(ctypes.byref(count), ctypes.byref(names)))
    return [names[i].decode("utf-8", "replace") for i in range(count.value)]


def remove_global_func(name):
    check_call(_ffi.tt_func_remove_global(_ffi.c_str(name)))


def register_func(name, f=None, override=False):
    """Registers a Python function as global name, callable from C through the registry.
    As a decorator: @register_func("py.add"); as a call: register_func("py.add", fn).
    Returns the Python function unchanged (so decorated functions stay plain Python)."""
    if callable(name) and f is None:  # @register_func without a name: use the function's
        return register_func(name.__name__, name, override)
    if not isinstance(name, str):
        raise TypeError("register_func: name must be a str, got %s" % type(name).__name__)

    def do_register(fn):
        func = convert_to_function(fn, name, permanent=True)
        check_call(_ffi.tt_func_register_global(_ffi.c_str(name), func.handle,
                                                1 if override else 0))
        return fn

    if f is not None:
        return do_register(f)
    return do_register
