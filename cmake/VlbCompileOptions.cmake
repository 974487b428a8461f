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

# vlb_cc_library(<name> SRCS <files...> [PUBLIC_DEPS <libs...>]
#                [DEPS <libs...>])
# One library per folder of src/, the way abseil's absl_cc_library does it:
# a static library vlb_<name> with the in-tree alias vlb::<name> (also its
# exported name, cmake/VlbInstall.cmake), vlb's public headers (include/)
# and internal headers (src/, in-tree only) on its include path and on that
# of its dependents, and vlb's strict warnings. PUBLIC_DEPS are the
# libraries its headers expose; DEPS those only its .cc files use.
function(vlb_cc_library name)
  cmake_parse_arguments(L "" "" "SRCS;PUBLIC_DEPS;DEPS" ${ARGN})
  if(NOT L_SRCS)
    message(FATAL_ERROR "vlb_cc_library(${name}): SRCS is empty")
  endif()
  set(target vlb_${name})
  add_library(${target} STATIC ${L_SRCS})
  add_library(vlb::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(${target} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_DEPS})
  vlb_target_warnings(${target})
endfunction()
