# Run by `cmake --install` (see contrib/CMakeLists.txt): fill a template with
# paths computed from the prefix used at install time, so that
# `cmake --install BUILD --prefix P` writes descriptors and units naming
# P/bin/vigild rather than the prefix chosen at configure time. DESTDIR is not
# part of these paths: it is only a staging root.
#
# In: VIGIL_CI_TEMPLATE, VIGIL_CI_OUTPUT, VIGIL_CI_PROGRAM_DIR (relative to the
# prefix, or absolute), VIGIL_CI_PROGRAM, VIGIL_CI_SYSCONFDIR (likewise),
# VIGIL_CI_TAGS (a list).
function(vigil_install_path out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  elseif(dir STREQUAL "etc" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(${out} "/etc" PARENT_SCOPE)          # as GNUInstallDirs does
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

vigil_install_path(_dir "${VIGIL_CI_PROGRAM_DIR}")
set(VIGIL_BINARY "${_dir}/${VIGIL_CI_PROGRAM}")
vigil_install_path(_etc "${VIGIL_CI_SYSCONFDIR}")
set(VIGIL_SYSCONFDIR "${_etc}/vigil")
set(VIGIL_TAGS "")
foreach(tag IN LISTS VIGIL_CI_TAGS)
  if(VIGIL_TAGS)
    string(APPEND VIGIL_TAGS ", ")
  endif()
  string(APPEND VIGIL_TAGS "\"${tag}\"")
endforeach()
configure_file("${VIGIL_CI_TEMPLATE}" "${VIGIL_CI_OUTPUT}" @ONLY)
