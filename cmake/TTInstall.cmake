# `cmake --install BUILD --prefix P`: the CLI, the RPC server tvm-tune-rpc, the runtime and host libraries (with SONAME and
# version), the public headers under include/tt/, pkg-config files (tvm-tune-runtime.pc for the
# runtime alone, tvm-tune.pc for the host library), a CMake package (find_package(tvm-tune):
# tvm-tune::runtime, tvm-tune::tt) and the Python package. README.md, "Installing", shows its use.
include(CMakePackageConfigHelpers)

set(TT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tvm-tune)
set(TT_PYTHON_DIR ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages CACHE STRING
    "Where the Python package tvm_tune is installed, relative to the prefix")

set_target_properties(tt_runtime PROPERTIES EXPORT_NAME runtime)
# The installed programs find libtt and libtt_runtime in the prefix wherever it is moved (a prefix
# of the aarch64 build copied to a board included).
file(RELATIVE_PATH TT_BIN_TO_LIB ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
set_target_properties(tvm-tune-rpc PROPERTIES INSTALL_RPATH "$ORIGIN/${TT_BIN_TO_LIB}")
set(TT_INSTALL_TARGETS tt_runtime)
if(TARGET tt)
  list(APPEND TT_INSTALL_TARGETS tt tvm-tune)
  set_target_properties(tvm-tune PROPERTIES INSTALL_RPATH "$ORIGIN/${TT_BIN_TO_LIB}")
endif()
install(TARGETS tvm-tune-rpc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${TT_INSTALL_TARGETS} EXPORT tvm-tune-targets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/tt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

install(EXPORT tvm-tune-targets NAMESPACE tvm-tune:: DESTINATION ${TT_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/tvm-tune-config.cmake.in
                              ${CMAKE_BINARY_DIR}/tvm-tune-config.cmake
                              INSTALL_DESTINATION ${TT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/tvm-tune-config-version.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/tvm-tune-config.cmake
              ${CMAKE_BINARY_DIR}/tvm-tune-config-version.cmake
        DESTINATION ${TT_CMAKE_DIR})

# pkg-config files locate the prefix from their own place (${pcfiledir}), so they stay right for
# `cmake --install --prefix P` and a moved prefix alike.
file(RELATIVE_PATH TT_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" TT_PC_TO_PREFIX "${TT_PC_TO_PREFIX}")
foreach(pc tvm-tune-runtime tvm-tune)
  if(pc STREQUAL "tvm-tune" AND NOT TARGET tt)
    continue()
  endif()
  configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# The Python package, with _install.py telling it where the installed libtt_runtime is.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/tvm_tune DESTINATION ${TT_PYTHON_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
install(CODE "
  set(libdir \"${CMAKE_INSTALL_LIBDIR}\")
  if(NOT IS_ABSOLUTE \"\${libdir}\")
    set(libdir \"\${CMAKE_INSTALL_PREFIX}/\${libdir}\")
  endif()
  file(WRITE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${TT_PYTHON_DIR}/tvm_tune/_install.py\"
       \"# Written by cmake --install: the directory of the installed libtt_runtime.\\nLIBDIR = r'\${libdir}'\\n\")
")
