# NDArray: a Python handle to a DLTensor made by tt_array_alloc (refcounted in C), plus dtype
# strings ("float32") and conversions to and from numpy (when installed) and plain lists (always).
# Arrays are compact, row-major, on the CPU; data is copied in and out, never shared with numpy.
import ctypes
import re

from . import _ffi
from ._ffi import DLDataType, DLDevice, DLTensor, TVMTuneError, check_call

try:  # numpy is optional: the binding works with ints, floats, strings and lists without it.
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the interpreter
    _np = None

_CODE_NAMES = {0: "int", 1: "uint", 2: "float", 3: "handle", 4: "bfloat"}
_NAME_CODES = {v: k for k, v in _CODE_NAMES.items()}
_DTYPE_RE = re.compile(r"^(int|uint|float|handle|bfloat)(\d+)?(?:x(\d+))?$")

# Element types plain lists can be read and written with (ctypes types by dtype string).
_CTYPES = {
    "int8": ctypes.c_int8, "int16": ctypes.c_int16, "int32": ctypes.c_int32,
    "int64": ctypes.c_int64, "uint8": ctypes.c_uint8, "uint16": ctypes.c_uint16,
    "uint32": ctypes.c_uint32, "uint64": ctypes.c_uint64, "float32": ctypes.c_float,
    "float64": ctypes.c_double,
}


def dtype_from_str(s):
    """'float32' -> DLDataType(code=2, bits=32, lanes=1). Raises ValueError on unknown text."""
    if isinstance(s, DLDataType):
        return s
    if s == "bool":
        return DLDataType(1, 1, 1)
    m = _DTYPE_RE.match(str(s))
    if not m:
        raise ValueError("unknown dtype %r: expected e.g. 'float32', 'int64', 'uint8x4'" % (s,))
    bits = int(m.group(2)) if m.group(2) else (64 if m.group(1) == "handle" else 32)
    lanes = int(m.group(3)) if m.group(3) else 1
    if not (0 < bits < 256 and 0 < lanes < 65536):
        raise ValueError("dtype %r: bits or lanes out of range" % (s,))
    return DLDataType(_NAME_CODES[m.group(1)], bits, lanes)


def dtype_to_str(t):
    if t.code == 1 and t.bits == 1 and t.lanes == 1:
        return "bool"
    name = "%s%d" % (_CODE_NAMES.get(t.code, "code%d_" % t.code), t.bits)
    return name if t.lanes == 1 else "%sx%d" % (name, t.lanes)


def _cpu():
    return DLDevice(_ffi.KDL_CPU, 0)


class NDArray:
    """A tensor in C memory. owned=True: made by tt_array_alloc, passed to C as TT_NDARRAY and
    released in __del__. owned=False: a borrowed DLTensor (an argument of a callback) that is only
    valid during the call; it is passed on as TT_DLTENSOR."""

    __slots__ = ("handle", "owned", "_keep", "__weakref__")

    def __init__(self, handle, owned=True, keep=None):
        self.handle = ctypes.cast(handle, ctypes.POINTER(DLTensor))
        self.owned = owned
        self._keep = keep  # whatever keeps a borrowed handle's memory alive

    def __del__(self):
        if self.owned and self.handle and _ffi is not None and _ffi.tt_array_free is not None:
            _ffi.tt_array_free(self.handle)
            self.handle = None

    @property
    def _t(self):
        return self.handle.contents

    @property
    def shape(self):
        t = self._t
        return tuple(t.shape[i] for i in range(t.ndim))

    @property
    def ndim(self):
        return self._t.ndim

    @property
    def dtype(self):
        return dtype_to_str(self._t.dtype)

    @property
    def device(self):
        d = self._t.device
        return (d.device_type, d.device_id)

    @property
    def size(self):
        n = 1
        for e in self.shape:
            n *= e
        return n

    @property
    def nbytes(self):
        return _ffi.tt_array_nbytes(self.handle)

    def _data_address(self):
        t = self._t
        if t.strides:
            shape, strides = self.shape, [t.strides[i] for i in range(t.ndim)]
            expect = 1
            for i in reversed(range(t.ndim)):
                if shape[i] != 1 and strides[i] != expect:
                    raise TVMTuneError("NDArray: only compact row-major arrays can be read, "
                                       "strides are %s" % (strides,))
                expect *= shape[i]
        if t.device.device_type != _ffi.KDL_CPU:
            raise TVMTuneError("NDArray: data on device type %d cannot be read from Python"
                               % t.device.device_type)
        return (t.data or 0) + t.byte_offset

    def numpy(self):
        """A numpy copy of the data (needs numpy)."""
        if _np is None:
            raise ImportError("NDArray.numpy() needs numpy; use to_list() without it")
        t = self._t
        if t.dtype.lanes != 1:
            raise TVMTuneError("NDArray.numpy(): dtype %s has lanes" % self.dtype)
        nbytes = self.nbytes
        out = _np.empty(self.shape, dtype=self.dtype)
        if nbytes:
            ctypes.memmove(out.ctypes.data, self._data_address(), nbytes)
        return out

    def copyfrom(self, source):
        """Copies a numpy array, a nested list or another NDArray of the same shape in."""
        if isinstance(source, NDArray):
            if source.shape != self.shape or source.dtype != self.dtype:
                raise ValueError("copyfrom: shape/dtype %s %s != %s %s" % (
                    source.shape, source.dtype, self.shape, self.dtype))
            ctypes.memmove(self._data_address(), source._data_address(), self.nbytes)
            return self
        if _np is not None and isinstance(source, _np.ndarray):
            src = _np.ascontiguousarray(source, dtype=self.dtype)
            if src.shape != self.shape:
                raise ValueError("copyfrom: shape %s != %s" % (src.shape, self.shape))
            if src.nbytes:
                ctypes.memmove(self._data_address(), src.ctypes.data, src.nbytes)
            return self
        shape, flat = _flatten(source)
        if shape != self.shape:
            raise ValueError("copyfrom: shape %s != %s" % (shape, self.shape))
        ctype = _list_ctype(self.dtype)
        buf = (ctype * len(flat))(*flat)
        ctypes.memmove(self._data_address(), buf, ctypes.sizeof(buf))
        return self

    def to_list(self):
        """The data as nested Python lists (ints or floats); works without numpy."""
        ctype = _list_ctype(self.dtype)
        n = self.size
        flat = list((ctype * n).from_address(self._data_address())) if n else []
        shape = self.shape
        if not shape:
            return flat[0]
        return _nest(flat, shape)

    def __repr__(self):
        return "<tvm_tune.NDArray shape=%s dtype=%s%s>" % (
            self.shape, self.dtype, "" if self.owned else " borrowed")


def _list_ctype(dtype):
    try:
        return _CTYPES[dtype]
    except KeyError:
        raise TVMTuneError("NDArray: dtype %s cannot be converted to a list (supported: %s)"
                           % (dtype, ", ".join(sorted(_CTYPES)))) from None


def _nest(flat, shape):
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(data):
    """Nested lists -> (shape, flat list); raises ValueError on ragged input."""
    if not isinstance(data, (list, tuple)):
        return (), [data]
    if not data:
        return (0,), []
    parts = [_flatten(x) for x in data]
    inner = parts[0][0]
    for i, (s, _) in enumerate(parts):
        if s != inner:
            raise ValueError("ragged nested list: element %d has shape %s, element 0 has %s"
                             % (i, s, inner))
    return (len(data),) + inner, [v for _, f in parts for v in f]


def empty(shape, dtype="float32", device=None):
    """A new zeroed array (tt_array_alloc zeroes the data)."""
    shape = tuple(int(e) for e in shape)
    c_shape = (ctypes.c_int64 * max(len(shape), 1))(*shape)
    out = ctypes.POINTER(DLTensor)()
    check_call(_ffi.tt_array_alloc(c_shape, len(shape), dtype_from_str(dtype),
                                   device or _cpu(), ctypes.byref(out)))
    return NDArray(out, owned=True)


def from_list(data, dtype=None):
    """An array from a number or nested lists of numbers. dtype defaults to int64 when every
    element is an int, else float64 (Python's own number types)."""
    shape, flat = _flatten(data)
    if dtype is None:
        dtype = "int64" if all(isinstance(v, int) for v in flat) else "float64"
    if not shape:
        return _scalar(flat[0], dtype)
    return empty(shape, dtype).copyfrom(data)


def _scalar(value, dtype):
    a = empty((), dtype)
    ctype = _list_ctype(dtype)
    ctype.from_address(a._data_address()).value = value
    return a


def from_numpy(arr):
    if _np is None:
        raise ImportError("from_numpy needs numpy")
    arr = _np.ascontiguousarray(arr)
    return empty(arr.shape, str(arr.dtype)).copyfrom(arr)


def array(data, dtype=None):
    """nd.array(numpy array | nested list | NDArray) -> a new NDArray (a copy)."""
    if isinstance(data, NDArray):
        return empty(data.shape, data.dtype).copyfrom(data)
    if _np is not None and isinstance(data, _np.ndarray):
        return from_numpy(data if dtype is None else data.astype(dtype))
    if _np is not None and dtype is None and not isinstance(data, (list, tuple, int, float)):
        return from_numpy(_np.asarray(data))
    return from_list(data, dtype)


def wrap_dltensor(address, owned):
    """An NDArray for a DLTensor pointer that arrived from C. owned: we hold one reference."""
    return NDArray(ctypes.c_void_p(address), owned=owned)


def has_numpy():
    return _np is not None
