#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then use tvm-tune as a user of the installed package
# would: a C program built with pkg-config (tvm-tune-runtime) and one with find_package(tvm-tune)
# create, register and call a PackedFunc; the installed CLI compiles a kernel library that
# ctypes.CDLL loads alone and that computes the right answer (and so does one compiled from the
# build tree); the installed Python package finds the installed runtime.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1
ROOT=$2
source "$ROOT/tests/cli/lib.sh" "$BUILD/tuner/tvm-tune" "$ROOT"
PREFIX=$WORK/prefix
PY=/usr/bin/python3

check "cmake --install into $PREFIX" cmake --install "$BUILD" --prefix "$PREFIX"
for f in bin/tvm-tune bin/tvm-tune-rpc include/tt/rpc.h lib/libtt_runtime.so.0 lib/libtt.so.0 include/tt/runtime.h \
    include/tt/backend.h lib/pkgconfig/tvm-tune-runtime.pc lib/pkgconfig/tvm-tune.pc \
    lib/cmake/tvm-tune/tvm-tune-config.cmake lib/python3/dist-packages/tvm_tune/__init__.py; do
  check "installed $f" test -e "$PREFIX/$f"
done
check "the installed tvm-tune-rpc runs without LD_LIBRARY_PATH" \
  sh -c "env -u LD_LIBRARY_PATH '$PREFIX/bin/tvm-tune-rpc' --help | grep -q 'key-file'"
check "libtt_runtime's SONAME is libtt_runtime.so.0" \
  sh -c "readelf -d '$PREFIX/lib/libtt_runtime.so.0' | grep -q 'SONAME.*\[libtt_runtime.so.0\]'"

cat >"$WORK/app.c" <<'C'
#include <stdio.h>
#include <tt/runtime.h>

static int add_one(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    (void)res;
    if (n != 1 || codes[0] != TT_INT)
        return tt_error_set("add_one: expected one int argument");
    tt_value v = {.v_int64 = args[0].v_int64 + 1};
    int code = TT_INT;
    return tt_ret_set(ret, &v, &code, 1);
}

int main(void)
{
    tt_func f, g;
    tt_value arg = {.v_int64 = 41}, out;
    int code = TT_INT, out_code;
    if (tt_func_create(add_one, NULL, NULL, &f) || tt_func_register_global("app.add_one", f, 0) ||
        tt_func_get_global("app.add_one", &g) || !g ||
        tt_func_call(g, &arg, &code, 1, &out, &out_code)) {
        fprintf(stderr, "%s\n", tt_get_last_error());
        return 1;
    }
    printf("%lld\n", (long long)out.v_int64);
    tt_func_free(g);
    tt_func_free(f);
    return out_code == TT_INT && out.v_int64 == 42 ? 0 : 1;
}
C
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
check "pkg-config builds a program against the installed runtime" \
  sh -c "cc -Wall -Werror -o '$WORK/app' '$WORK/app.c' \$(pkg-config --cflags --libs tvm-tune-runtime)"
check "the pkg-config program registers and calls a PackedFunc (42)" \
  sh -c "LD_LIBRARY_PATH='$PREFIX/lib' '$WORK/app' | grep -qx 42"
cat >"$WORK/tune_app.c" <<'C'
#include <stdio.h>
#include <tt/tune.h>

/* The installed tuner API compiles on its own: load an op.json, refuse a bad one. */
int main(int argc, char **argv)
{
    tt_opfile *f;
    if (argc != 3 || tt_opfile_load(argv[1], &f) != 0)
        return 1;
    tt_opfile_free(f);
    if (tt_opfile_load(argv[2], &f) == 0)
        return 1;
    printf("%s\n", tt_error_category_name(tt_get_last_error_category()));
    return 0;
}
C
echo '{"op": "matmul", "M": -4, "N": 2, "K": 2}' >"$WORK/bad.json"
check "pkg-config builds a program against the installed tuner library (tt/tune.h)" \
  sh -c "cc -Wall -Werror -o '$WORK/tune_app' '$WORK/tune_app.c' \$(pkg-config --cflags --libs tvm-tune)"
check "the tuner-library program loads op.json and refuses a bad one" \
  sh -c "LD_LIBRARY_PATH='$PREFIX/lib' '$WORK/tune_app' '$ROOT/examples/matmul.json' '$WORK/bad.json'"

mkdir -p "$WORK/cmake-app"
cp "$WORK/app.c" "$WORK/cmake-app/app.c"
cat >"$WORK/cmake-app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(app C)
find_package(tvm-tune 0.1 REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE tvm-tune::runtime)
CM
check "find_package(tvm-tune) configures" \
  cmake -S "$WORK/cmake-app" -B "$WORK/cmake-app/build" -DCMAKE_PREFIX_PATH="$PREFIX"
check "find_package(tvm-tune) builds" cmake --build "$WORK/cmake-app/build"
check "the find_package program calls its PackedFunc (42)" \
  sh -c "'$WORK/cmake-app/build/app' | grep -qx 42"

# Kernel libraries: built by the installed CLI (no LD_LIBRARY_PATH: it finds its libraries by
# RUNPATH) and by the build tree's; each loads with ctypes alone.
check "an empty database" "$BUILD/tuner/tvm-tune" db import /dev/null --db "$WORK/empty.db"
mkdir -p "$WORK/installed" "$WORK/tree"
check "installed tvm-tune compiles a kernel library" env -u LD_LIBRARY_PATH "$PREFIX/bin/tvm-tune" \
  compile "$ROOT/examples/matmul.json" --db "$WORK/empty.db" -o "$WORK/installed/libops.so"
check "build-tree tvm-tune compiles a kernel library" "$BUILD/tuner/tvm-tune" \
  compile "$ROOT/examples/matmul.json" --db "$WORK/empty.db" -o "$WORK/tree/libops.so"
check "the installed CLI's library records the installed runtime" \
  sh -c "readelf -d '$WORK/installed/libops.so' | grep -q 'NEEDED.*libtt_runtime.so.0' &&
         readelf -d '$WORK/installed/libops.so' | grep -q 'RUNPATH.*\[$PREFIX/lib\]'"
check "ctypes.CDLL loads the installed CLI's kernel alone and it computes" \
  env -u LD_LIBRARY_PATH "$PY" "$ROOT/tests/install/check_kernel.py" "$WORK/installed/libops.so"
check "ctypes.CDLL loads the build tree's kernel alone and it computes" \
  env -u LD_LIBRARY_PATH "$PY" "$ROOT/tests/install/check_kernel.py" "$WORK/tree/libops.so"

check "the installed Python package loads the installed runtime" \
  env -u TT_BUILD_DIR -u TT_LIBRARY_PATH PYTHONPATH="$PREFIX/lib/python3/dist-packages" \
  "$PY" -c "import tvm_tune, os, sys
p = os.path.realpath(tvm_tune._ffi.LIB_PATH)
sys.exit(0 if p.startswith(os.path.realpath('$PREFIX')) else 'loaded ' + p)"
finish
