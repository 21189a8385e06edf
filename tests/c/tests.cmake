# The C test driver: every SIMD variant this CPU runs against the serial one,
# element for element, on random and edge-case inputs.  Included from the
# top-level CMakeLists.txt only with -DFASTFRAC_BUILD_TESTS=ON (never by pip),
# so that the per-file SIMD flags set there apply here too.  It compiles the
# kernel sources afresh, rather than linking fastfrac_kernels, so that they
# carry the sanitizers as well.
add_executable(test_kernels tests/c/test_kernels.c ${fastfrac_sources})
target_include_directories(test_kernels PRIVATE csrc)
set_target_properties(test_kernels PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
target_compile_options(test_kernels PRIVATE -O2 -g -Wall -Wextra -Wpedantic -Wshadow
  -ffp-contract=off)
if(FASTFRAC_X86_SIMD)
  target_compile_definitions(test_kernels PRIVATE FF_WITH_X86_SIMD=1)
endif()
if(FASTFRAC_SANITIZE)
  target_compile_options(test_kernels PRIVATE -fsanitize=address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(test_kernels PRIVATE -fsanitize=address,undefined)
endif()
target_link_libraries(test_kernels PRIVATE m)
if(FASTFRAC_OPENMP AND OpenMP_C_FOUND)
  target_link_libraries(test_kernels PRIVATE OpenMP::OpenMP_C Threads::Threads)
endif()
add_test(NAME test_kernels COMMAND test_kernels)

# CI's emulator check (see the file): built, never run by ctest, since a CPU
# without AVX2 cannot run it.
if(FASTFRAC_X86_SIMD)
  add_executable(emulator_gather_probe tests/c/emulator_gather_probe.c)
endif()
