# Warnings for our own code only (never for generated protobuf code or third-party headers).
add_library(yiwang_warnings INTERFACE)
target_compile_options(yiwang_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(YIWANG_WERROR)
  target_compile_options(yiwang_warnings INTERFACE -Werror)
endif()
