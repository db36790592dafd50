# Cross-compiles the device runtime for 64-bit Arm Linux (scripts/build.sh aarch64) with Debian's
# gcc-aarch64-linux-gnu against the arm64 multiarch packages (libsodium-dev:arm64,
# libgomp1:arm64 in /usr/lib/aarch64-linux-gnu). Headers that do not depend on the architecture
# (dlpack, sodium) come from /usr/include. The result runs under qemu-aarch64-static on x86.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# find_library looks in /usr/lib/aarch64-linux-gnu, never in the host's x86_64 directories.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
