# Module from Python: a tt_module handle (a loaded shared library, a JIT result, an RPC session)
# whose functions are looked up by name. load_module() is tt_mod_load_from_file.
import ctypes

from . import _ffi
from ._ffi import TVMTuneError, check_call
from .function import Function


class Module:
    """A runtime module. module[name] and get_function(name) return a Function (the C side
    caches each lookup, so repeated lookups are cheap)."""

    __slots__ = ("handle", "path", "__weakref__")
    _tt_code = _ffi.MODULE

    def __init__(self, handle, path=None):
        self.handle = handle if isinstance(handle, ctypes.c_void_p) else ctypes.c_void_p(handle)
        self.path = path

    def __del__(self):
        if self.handle and _ffi is not None and _ffi.tt_mod_free is not None:
            _ffi.tt_mod_free(self.handle)
            self.handle = None

    @property
    def format(self):
        f = _ffi.tt_mod_format(self.handle)
        return f.decode() if f else ""

    def get_function(self, name, query_imports=False, allow_missing=False):
        out = ctypes.c_void_p()
        check_call(_ffi.tt_mod_get_function(self.handle, _ffi.c_str(name),
                                            1 if query_imports else 0, ctypes.byref(out)))
        if not out.value:
            if allow_missing:
                return None
            raise TVMTuneError("module %s has no function '%s'" % (self._label(), name))
        return Function(out, name)

    def __getitem__(self, name):
        if not isinstance(name, str):
            raise TypeError("module[...] takes a function name (str)")
        return self.get_function(name)

    def __contains__(self, name):
        return self.get_function(name, allow_missing=True) is not None

    def import_module(self, dep):
        """self searches dep too when get_function(..., query_imports=True)."""
        check_call(_ffi.tt_mod_import(self.handle, dep.handle))

    def _label(self):
        return "'%s' (%s)" % (self.path, self.format) if self.path else "(%s)" % self.format

    def __repr__(self):
        return "<tvm_tune.Module %s>" % self._label()


def load_module(path, fmt=""):
    """Loads a module file ("so": a shared library; "" guesses from the extension)."""
    out = ctypes.c_void_p()
    check_call(_ffi.tt_mod_load_from_file(_ffi.c_str(str(path)), _ffi.c_str(fmt or ""),
                                          ctypes.byref(out)))
    return Module(out, str(path))
