# Finds tvm-tune's dependencies, all from Debian's packages. A missing one stops the configure
# step with the name of the package to install (scripts/install-deps.sh installs them all).
find_package(PkgConfig QUIET)

function(tt_missing what package)
  message(FATAL_ERROR "tvm-tune: ${what} not found. Install the Debian package '${package}' "
                      "(or run scripts/install-deps.sh as root).")
endfunction()

# DLPack: header only.
find_path(TT_DLPACK_INCLUDE dlpack/dlpack.h)
if(NOT TT_DLPACK_INCLUDE)
  tt_missing("DLPack (dlpack/dlpack.h)" libdlpack-dev)
endif()

# OpenMP: parallel loops of generated kernels run on it.
find_package(OpenMP QUIET)
if(NOT OpenMP_C_FOUND)
  tt_missing("OpenMP" libgomp1)
endif()

# hwloc: topology (physical cores) and thread pinning. Optional for the runtime-only build (a
# device, a cross build without hwloc:arm64): the runtime then counts online CPUs and does not pin.
find_path(TT_HWLOC_INCLUDE hwloc.h)
find_library(TT_HWLOC_LIB hwloc)
add_library(tt::hwloc INTERFACE IMPORTED)
if(TT_HWLOC_INCLUDE AND TT_HWLOC_LIB)
  target_include_directories(tt::hwloc INTERFACE ${TT_HWLOC_INCLUDE})
  target_link_libraries(tt::hwloc INTERFACE ${TT_HWLOC_LIB})
  target_compile_definitions(tt::hwloc INTERFACE TT_HAVE_HWLOC)
elseif(TT_RUNTIME_ONLY)
  message(STATUS "tvm-tune: hwloc not found: the runtime will not pin threads")
else()
  tt_missing("hwloc" libhwloc-dev)
endif()

# libsodium: the RPC handshake (crypto_auth, crypto_kx) and the encrypted streams.
find_path(TT_SODIUM_INCLUDE sodium.h)
find_library(TT_SODIUM_LIB sodium)
if(NOT TT_SODIUM_INCLUDE OR NOT TT_SODIUM_LIB)
  tt_missing("libsodium" libsodium-dev)
endif()
add_library(tt::sodium INTERFACE IMPORTED)
target_include_directories(tt::sodium INTERFACE ${TT_SODIUM_INCLUDE})
target_link_libraries(tt::sodium INTERFACE ${TT_SODIUM_LIB})

if(TT_BUILD_TESTS)
  find_path(TT_CMOCKA_INCLUDE cmocka.h)
  find_library(TT_CMOCKA_LIB cmocka)
  if(NOT TT_CMOCKA_INCLUDE OR NOT TT_CMOCKA_LIB)
    tt_missing("cmocka" libcmocka-dev)
  endif()
  add_library(tt::cmocka INTERFACE IMPORTED)
  target_include_directories(tt::cmocka INTERFACE ${TT_CMOCKA_INCLUDE})
  target_link_libraries(tt::cmocka INTERFACE ${TT_CMOCKA_LIB})
endif()

if(TT_RUNTIME_ONLY)
  return()
endif()

# LLVM 19 through llvm-config-19: the C API (llvm-c) and the shared libLLVM.
find_program(TT_LLVM_CONFIG NAMES llvm-config-19 PATHS /usr/lib/llvm-19/bin)
if(NOT TT_LLVM_CONFIG)
  tt_missing("LLVM 19 (llvm-config-19)" llvm-19-dev)
endif()
execute_process(COMMAND ${TT_LLVM_CONFIG} --version OUTPUT_VARIABLE TT_LLVM_VERSION
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT TT_LLVM_VERSION MATCHES "^19\\.")
  message(FATAL_ERROR "tvm-tune: LLVM 19 is required, ${TT_LLVM_CONFIG} is ${TT_LLVM_VERSION}")
endif()
execute_process(COMMAND ${TT_LLVM_CONFIG} --includedir OUTPUT_VARIABLE TT_LLVM_INCLUDE
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${TT_LLVM_CONFIG} --libdir OUTPUT_VARIABLE TT_LLVM_LIBDIR
                OUTPUT_STRIP_TRAILING_WHITESPACE)
find_library(TT_LLVM_LIB NAMES LLVM-19 LLVM PATHS ${TT_LLVM_LIBDIR} NO_DEFAULT_PATH)
if(NOT TT_LLVM_LIB)
  tt_missing("libLLVM-19.so" llvm-19-dev)
endif()
add_library(tt::llvm INTERFACE IMPORTED)
target_include_directories(tt::llvm INTERFACE ${TT_LLVM_INCLUDE})
target_link_libraries(tt::llvm INTERFACE ${TT_LLVM_LIB})
find_program(TT_LLD NAMES ld.lld-19 ld.lld PATHS /usr/lib/llvm-19/bin)
if(NOT TT_LLD)
  tt_missing("lld 19 (ld.lld-19)" lld-19)
endif()
# GNU ld links a kernel library for this machine in a tenth of lld's time (lld loads all of
# libLLVM at each start, ~20 ms): optional, lld does it otherwise (codegen/emit.c).
find_program(TT_LD_BFD NAMES ld.bfd)

find_path(TT_XGBOOST_INCLUDE xgboost/c_api.h)
find_library(TT_XGBOOST_LIB xgboost)
if(NOT TT_XGBOOST_INCLUDE OR NOT TT_XGBOOST_LIB)
  tt_missing("XGBoost (xgboost/c_api.h)" libxgboost-dev)
endif()
add_library(tt::xgboost INTERFACE IMPORTED)
target_include_directories(tt::xgboost INTERFACE ${TT_XGBOOST_INCLUDE})
target_link_libraries(tt::xgboost INTERFACE ${TT_XGBOOST_LIB})

find_path(TT_JANSSON_INCLUDE jansson.h)
find_library(TT_JANSSON_LIB jansson)
if(NOT TT_JANSSON_INCLUDE OR NOT TT_JANSSON_LIB)
  tt_missing("jansson" libjansson-dev)
endif()
add_library(tt::jansson INTERFACE IMPORTED)
target_include_directories(tt::jansson INTERFACE ${TT_JANSSON_INCLUDE})
target_link_libraries(tt::jansson INTERFACE ${TT_JANSSON_LIB})

find_path(TT_SQLITE_INCLUDE sqlite3.h)
find_library(TT_SQLITE_LIB sqlite3)
if(NOT TT_SQLITE_INCLUDE OR NOT TT_SQLITE_LIB)
  tt_missing("SQLite" libsqlite3-dev)
endif()
add_library(tt::sqlite3 INTERFACE IMPORTED)
target_include_directories(tt::sqlite3 INTERFACE ${TT_SQLITE_INCLUDE})
target_link_libraries(tt::sqlite3 INTERFACE ${TT_SQLITE_LIB})

# libpq: PostgreSQL, the farms' shared database (logs/, farm/). Debian puts its header in
# /usr/include/postgresql.
find_path(TT_PQ_INCLUDE libpq-fe.h PATH_SUFFIXES postgresql)
find_library(TT_PQ_LIB pq)
if(NOT TT_PQ_INCLUDE OR NOT TT_PQ_LIB)
  tt_missing("libpq" libpq-dev)
endif()
add_library(tt::pq INTERFACE IMPORTED)
target_include_directories(tt::pq INTERFACE ${TT_PQ_INCLUDE})
target_link_libraries(tt::pq INTERFACE ${TT_PQ_LIB})
