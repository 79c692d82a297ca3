function(akidb_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual)
  if(AKIDB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(AKIDB_NATIVE AND NOT AKIDB_SANITIZE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  if(AKIDB_SANITIZE STREQUAL "thread")
    # -Wno-tsan: GCC warns that TSan does not model atomic_thread_fence, which
    # Asio's handler completion uses (std_fenced_block); the handoffs it
    # orders also go through Asio's mutex-protected queues, which TSan sees.
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  elseif(AKIDB_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
