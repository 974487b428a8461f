# Install rules and the CMake package (find_package(vlb) + vlb::vlb).
# Included from the top-level CMakeLists.txt after src/ and proto/ when
# VLB_INSTALL is ON; tests/package/run.sh checks the result.
#
# Exported: every library target defined under src/ and proto/ (vlb,
# vlb_registry, vlb_etcd, vlb_common, vlb_etcd_proto, and whatever is added
# there later), so that a static library's private dependencies are always in
# the export set too. A target opts out with the property VLB_NO_INSTALL ON.
# Each vlb_<x> is exported as vlb::<x>, the same name as its in-tree ALIAS.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(VLB_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/vlb"
    CACHE STRING "Where vlb's CMake package files are installed (relative to the prefix)")

function(_vlb_targets_in dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _vlb_targets_in("${sub}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

set(_vlb_export_targets)
foreach(_dir IN ITEMS src proto)
  if(EXISTS "${PROJECT_SOURCE_DIR}/${_dir}/CMakeLists.txt")
    _vlb_targets_in("${PROJECT_SOURCE_DIR}/${_dir}" _found)
    list(APPEND _vlb_export_targets ${_found})
  endif()
endforeach()
list(FILTER _vlb_export_targets INCLUDE REGEX "^vlb(_.*)?$")

set(_vlb_installed)
foreach(_t IN LISTS _vlb_export_targets)
  get_target_property(_type ${_t} TYPE)
  get_target_property(_skip ${_t} VLB_NO_INSTALL)
  if(_skip OR NOT _type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|INTERFACE_LIBRARY)$")
    continue()
  endif()
  get_target_property(_export_name ${_t} EXPORT_NAME)
  if(NOT _export_name AND _t MATCHES "^vlb_(.+)$")
    set_target_properties(${_t} PROPERTIES EXPORT_NAME "${CMAKE_MATCH_1}")
  endif()
  # Include directories of the build tree must not leak into the package: they
  # belong in $<BUILD_INTERFACE:...> (the installed include dir is added below).
  get_target_property(_incs ${_t} INTERFACE_INCLUDE_DIRECTORIES)
  if(_incs)
    foreach(_inc IN LISTS _incs)
      string(FIND "${_inc}" "${PROJECT_SOURCE_DIR}/" _in_src)
      string(FIND "${_inc}" "${PROJECT_BINARY_DIR}/" _in_bin)
      if(NOT _inc MATCHES "^\\$<" AND (_in_src EQUAL 0 OR _in_bin EQUAL 0))
        message(FATAL_ERROR "vlb install: target ${_t} has the include directory "
                "${_inc} without $<BUILD_INTERFACE:...>; wrap it, e.g. "
                "target_include_directories(${_t} PUBLIC $<BUILD_INTERFACE:${_inc}>)")
      endif()
    endforeach()
  endif()
  list(APPEND _vlb_installed ${_t})
endforeach()

if(NOT TARGET vlb)
  message(FATAL_ERROR "vlb install: the target vlb (what users link) does not exist")
endif()

install(TARGETS ${_vlb_installed}
        EXPORT vlbTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# Public headers are only those in include/vlb/.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/vlb"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.h")

install(EXPORT vlbTargets
        NAMESPACE vlb::
        FILE vlbTargets.cmake
        DESTINATION "${VLB_INSTALL_CMAKEDIR}")

# vlb is compiled against gRPC core's internal headers of one gRPC version, so
# the package insists on exactly that version (see vlbConfig.cmake.in).
if(gRPC_VERSION)
  set(VLB_GRPC_REQUIREMENT "${gRPC_VERSION} EXACT")
else()
  set(VLB_GRPC_REQUIREMENT "")
endif()
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/vlbConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/vlbConfig.cmake"
  INSTALL_DESTINATION "${VLB_INSTALL_CMAKEDIR}")
# 0.x: minor versions may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/vlbConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/vlbConfig.cmake"
              "${PROJECT_BINARY_DIR}/vlbConfigVersion.cmake"
        DESTINATION "${VLB_INSTALL_CMAKEDIR}")

unset(_vlb_export_targets)
unset(_vlb_installed)
