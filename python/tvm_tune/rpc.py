# Remote sessions from Python: connect() returns an RPCSession over tt_rpc_connect (the session
# is a Module of format "rpc"); modules loaded on the device are Modules whose functions run
# there; arrays on the device are RemoteArrays (passed to remote functions as the C client's
# "rpc.RemoteObject"). Every call goes through the runtime's PackedFunc ABI like a local one.
#   sess = tvm_tune.rpc.connect("127.0.0.1", 9090, key_file="dev.key")
#   sess.upload("lib.so"); m = sess.load_module("lib.so")
#   a = sess.array(x); c = sess.empty((4, 4), "float32"); m["f"](a, c); c.numpy()
import ctypes
import json
import os
import struct

from . import _ffi
from ._ffi import TVMTuneError, check_call
from . import ndarray as _nd
from .function import Object
from .module import Module

_ffi.tt_rpc_connect = _ffi._decl("tt_rpc_connect", ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p, ctypes.c_double, ctypes.POINTER(ctypes.c_void_p))
_ffi.tt_rpc_set_timeout = _ffi._decl("tt_rpc_set_timeout", ctypes.c_int, ctypes.c_void_p,
                                     ctypes.c_double)
_ffi.tt_rpc_close = _ffi._decl("tt_rpc_close", ctypes.c_int, ctypes.c_void_p)
_ffi.tt_rpc_keygen = _ffi._decl("tt_rpc_keygen", ctypes.c_int, ctypes.c_char_p)

# Chunk size of uploads and array copies (TT_RPC_CHUNK_BYTES in runtime/rpc/proto.h).
CHUNK = 4 << 20


def keygen(path):
    """Writes a new 32-byte key to path (mode 0600); refuses to overwrite."""
    check_call(_ffi.tt_rpc_keygen(_ffi.c_str(str(path))))


def connect(host, port, key_file=None, timeout=10.0, call_timeout=None):
    """Connects and authenticates. key_file defaults to $TT_RPC_KEY_FILE. timeout bounds the
    connect and handshake; call_timeout (seconds) bounds every later call."""
    key_file = key_file or os.environ.get("TT_RPC_KEY_FILE")
    if not key_file:
        raise TVMTuneError("rpc.connect: no key file (pass key_file= or set TT_RPC_KEY_FILE)")
    out = ctypes.c_void_p()
    check_call(_ffi.tt_rpc_connect(_ffi.c_str(host), int(port), _ffi.c_str(str(key_file)),
                                   float(timeout), ctypes.byref(out)))
    sess = RPCSession(Module(out, "%s:%d" % (host, port)))
    if call_timeout:
        check_call(_ffi.tt_rpc_set_timeout(out, float(call_timeout)))
    return sess


class RemoteArray:
    """An array in the device's memory. numpy() copies it back; copyfrom(x) copies x in."""

    __slots__ = ("handle", "shape", "dtype", "_obj", "_sess")
    _tt_code = _ffi.OBJECT

    def __init__(self, sess, obj, shape, dtype):
        self._sess = sess
        self._obj = obj  # owns the reference; freed on the device when it goes
        self.handle = obj.handle
        self.shape = tuple(int(d) for d in shape)
        self.dtype = str(dtype)

    @property
    def nbytes(self):
        t = _nd.dtype_from_str(self.dtype)
        n = (t.bits * t.lanes + 7) // 8
        for d in self.shape:
            n *= d
        return n

    def copyfrom(self, x):
        np = _nd._np
        arr = np.ascontiguousarray(x, dtype=self.dtype)
        if arr.shape != self.shape:
            raise ValueError("RemoteArray.copyfrom: shape %s, expected %s" % (arr.shape,
                                                                               self.shape))
        data = arr.tobytes()
        f = self._sess.get_function("rpc.array_copy_to")
        for at in range(0, max(len(data), 1), CHUNK):
            f(self, data[at:at + CHUNK], at)
        return self

    def numpy(self):
        np = _nd._np
        f = self._sess.get_function("rpc.array_copy_from")
        n = self.nbytes
        parts = [f(self, at, min(CHUNK, n - at)) for at in range(0, n, CHUNK)]
        return np.frombuffer(b"".join(parts), dtype=self.dtype).reshape(self.shape).copy()

    def __repr__(self):
        return "<tvm_tune.rpc.RemoteArray %s %s>" % (self.shape, self.dtype)


class RemoteModule:
    """A module loaded on the device: m["f"](args) runs f there; m.time_evaluator times it."""

    def __init__(self, sess, mod, name):
        self._sess = sess
        self.module = mod
        self.name = name

    def __getitem__(self, name):
        return self.module[name]

    def get_function(self, name, allow_missing=False):
        return self.module.get_function(name, allow_missing=allow_missing)

    def __contains__(self, name):
        return name in self.module

    def time_evaluator(self, name, number=10, repeat=3, min_repeat_ms=0, flush_cache=False,
                       stop_above=0.0):
        """A callable: (args...) -> list of `repeat` costs in seconds per run, measured on the
        device (warm-up, `number` grown until a repeat lasts min_repeat_ms). The callable's
        `number` attribute holds the runs per repeat the last call grew to. stop_above > 0
        (seconds per run): a batch slower than that ends the timing with its one cost."""
        f = self.module[name]
        timer = self._sess.get_function("rpc.time_evaluate")

        def evaluate(*args):
            raw = timer(f, int(number), int(repeat), float(min_repeat_ms),
                        1 if flush_cache else 0, float(stop_above), *args)
            values = struct.unpack("<%dd" % (len(raw) // 8), raw)  # [k, number, costs...]
            evaluate.number = int(values[1])
            return list(values[2:2 + int(values[0])])

        evaluate.number = int(number)
        return evaluate


class RPCSession:
    """A connection to a tvm-tune-rpc server; `module` is the session as a Module of format
    "rpc" (its functions are the device's globals)."""

    def __init__(self, module):
        self.module = module
        self._funcs = {}

    def get_function(self, name):
        f = self._funcs.get(name)
        if f is None:
            f = self._funcs[name] = self.module[name]
        return f

    def upload(self, path, target=None):
        """Copies a local file into the session's work directory (as target, default its base
        name); returns the remote name."""
        target = target or os.path.basename(str(path))
        f = self.get_function("rpc.upload")
        with open(path, "rb") as fh:
            data = fh.read()
        for at in range(0, max(len(data), 1), CHUNK):
            f(target, data[at:at + CHUNK], at)
        return target

    def remove(self, name):
        self.get_function("rpc.remove")(name)

    def load_module(self, name):
        return RemoteModule(self, self.get_function("rpc.load_module")(name), name)

    def empty(self, shape, dtype="float32", guard=False):
        """A zeroed array on the device. guard=True places its bytes right before an
        inaccessible page (and after one), so a kernel reading past them faults: for tests of
        memory safety; the device keeps such arrays until the session ends."""
        shape = tuple(int(d) for d in shape)
        alloc = "rpc.array_alloc_guarded" if guard else "rpc.array_alloc"
        obj = self.get_function(alloc)(_dtype(dtype), *shape)
        if not isinstance(obj, Object):
            raise TVMTuneError("rpc: array_alloc returned %r" % (obj,))
        return RemoteArray(self, obj, shape, dtype)

    def array(self, x, guard=False):
        """A copy of numpy array x on the device (guard: as in empty)."""
        np = _nd._np
        if np is None:
            raise TVMTuneError("rpc.array needs numpy")
        x = np.ascontiguousarray(x)
        return self.empty(x.shape, str(x.dtype), guard=guard).copyfrom(x)

    def device_info(self):
        return json.loads(self.get_function("rpc.device_info")())

    def set_timeout(self, seconds):
        check_call(_ffi.tt_rpc_set_timeout(self.module.handle, float(seconds or 0)))

    def close(self):
        self._funcs.clear()
        if self.module is not None:
            check_call(_ffi.tt_rpc_close(self.module.handle))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _dtype(dtype):
    from .function import DataType
    return DataType(str(dtype))
