# ctest fixture: install the build tree into a fresh stage.
#   cmake -DBUILD=DIR -DSTAGE=DIR -DMODE=prefix|destdir -P install_stage.cmake
# prefix:  cmake --install BUILD --prefix STAGE (paths in descriptors follow)
# destdir: DESTDIR=STAGE cmake --install BUILD (the configured prefix, staged)
file(REMOVE_RECURSE "${STAGE}")
if(MODE STREQUAL "prefix")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${STAGE}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
else()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "DESTDIR=${STAGE}"
    ${CMAKE_COMMAND} --install "${BUILD}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install (${MODE}) failed:\n${out}")
endif()
string(REGEX MATCHALL "Installing: [^\n]*" lines "${out}")
list(LENGTH lines n)
message(STATUS "installed ${n} files into ${STAGE} (${MODE})")
