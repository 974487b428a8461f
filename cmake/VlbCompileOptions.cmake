# Compile options shared by every target of vlb's own code.

if(VLB_SANITIZE)
  # Applied globally so that tests, gtest main and our libraries agree on the
  # runtime; Debian's gRPC stays uninstrumented, which ASan/UBSan tolerate.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# vlb_target_warnings(<target>): strict warnings for code written in this repo
# (not for generated protobuf code).
function(vlb_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         -Wnon-virtual-dtor -Wshadow=local)
  if(VLB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
