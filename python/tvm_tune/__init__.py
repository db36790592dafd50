# tvm_tune: the Python binding of tvm-tune's runtime C ABI (include/tt/runtime.h), through ctypes
# only. Functions, modules and arrays made here are the same objects C code sees.
#   import tvm_tune as tt; f = tt.get_global_func("addTwoVectors"); f(1, 2)
from ._ffi import TVMTuneError, DLTensor, DLDataType, DLDevice, LIB_PATH
from .function import (Function, Object, Device, DataType, get_global_func,
                       list_global_func_names, register_func, remove_global_func,
                       convert_to_function)
from .module import Module, load_module
from . import ndarray
from . import ndarray as nd
from .ndarray import NDArray
from . import rpc

__version__ = "0.1.0"

__all__ = [
    "TVMTuneError", "DLTensor", "DLDataType", "DLDevice", "LIB_PATH", "Function", "Object",
    "Device", "DataType", "get_global_func", "list_global_func_names", "register_func",
    "remove_global_func", "convert_to_function", "Module", "load_module", "nd", "ndarray",
    "NDArray", "rpc",
]
