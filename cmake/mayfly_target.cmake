# Project-wide compile settings, applied per target (no global flags).
function(mayfly_target_settings target)
  # Designated initializers that leave fields at their defaults are idiomatic.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  target_compile_definitions(${target} PRIVATE
    OPENSSL_API_COMPAT=30000 OPENSSL_NO_DEPRECATED)
  # GCC 12 at -O3 reports false -Wrestrict positives inside std::string
  # (GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  mayfly_sanitizer_settings(${target})
  if(MAYFLY_FUZZ)
    # libstdc++ 12 offers std::expected only when __cpp_concepts >= 202002;
    # clang 16 implements what <expected> needs (P0848) but still reports
    # 201907, so the fuzz build raises the macro.
    target_compile_options(${target} PRIVATE -Wno-macro-redefined -D__cpp_concepts=202002L)
    # Coverage for libFuzzer everywhere; the fuzz executables add the driver.
    target_compile_options(${target} PRIVATE
      -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# The sanitizer flags alone, for targets that are not our code (generated
# sources): instrumented like the rest, without our warning flags.
function(mayfly_sanitizer_settings target)
  if(MAYFLY_FUZZ)
    return()  # mayfly_target_settings instruments fuzz builds itself
  elseif(MAYFLY_TSAN)
    # Asio's atomic_thread_fence is not modelled by TSan (GCC's -Wtsan): a
    # TSan build of the network code may report races inside Asio itself.
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  elseif(MAYFLY_SANITIZE)
    target_compile_options(${target} PRIVATE
      -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
