# CMake toolchain file: cross-compile for AArch64 Linux with Debian's
# gcc-aarch64-linux-gnu and run the results (ctest, try_run) under qemu-user.
#
#   cmake -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# The engine links cJSON, xxHash and (for the tests) Criterion, so a full
# cross build needs their arm64 packages (dpkg --add-architecture arm64;
# apt-get install libcjson-dev:arm64 libxxhash-dev:arm64 libcriterion-dev:arm64).
# scripts/test-neon.sh needs none of that: it builds the kernels alone.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(GPTOSS_AARCH64_PREFIX "aarch64-linux-gnu" CACHE STRING "Prefix of the cross tools")
set(CMAKE_C_COMPILER ${GPTOSS_AARCH64_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${GPTOSS_AARCH64_PREFIX}-g++)

# Debian's cross libc lives in /usr/aarch64-linux-gnu; multiarch arm64
# packages install into /usr/lib/aarch64-linux-gnu and /usr/include.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must see only the arm64 .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# qemu-aarch64 -cpu max has the dot-product extension; set
# GPTOSS_QEMU_CPU=cortex-a53 (ARMv8.0) to exercise the plain neon kernels.
# LD_LIBRARY_PATH (set inside the emulated process only) keeps the cross
# loader with its own libc: with multiarch libc6:arm64 installed too, the
# loader would otherwise pick that newer libc.so.6 through /etc/ld.so.cache,
# and the mismatch hangs the first pthread_create.
set(GPTOSS_QEMU_CPU "max" CACHE STRING "CPU model qemu-aarch64 emulates for ctest")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu
    -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib -cpu ${GPTOSS_QEMU_CPU})
