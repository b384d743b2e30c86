# VM core unit tests (no guest boot): memslot manager, mailbox and waiter,
# ELF loader, page-table/GDT builder, vigild command line.
# Included from test/core/CMakeLists.txt.
foreach(name memslot mailbox elf pagetable cmdline privileges)
  set(tgt core_unit_${name})
  add_executable(${tgt} ${CMAKE_CURRENT_LIST_DIR}/unit_${name}.c)
  target_link_libraries(${tgt} PRIVATE vigil_core PkgConfig::CRITERION)
  add_test(NAME ${tgt} COMMAND ${tgt})
  set_tests_properties(${tgt} PROPERTIES TIMEOUT 60)
endforeach()
# cmdline.c and privileges.c belong to vigild, not to vigil_core.
target_sources(core_unit_cmdline PRIVATE ${CMAKE_SOURCE_DIR}/server/cmdline.c)
target_sources(core_unit_privileges PRIVATE ${CMAKE_SOURCE_DIR}/server/privileges.c)
target_link_libraries(core_unit_privileges PRIVATE PkgConfig::CAPNG)
