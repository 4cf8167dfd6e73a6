# BPF objects are compiled with clang, turned into skeleton headers with bpftool, and embedded in
# the binaries through those headers: nothing is looked up on disk at run time. One rule for the
# product's programs (bpf/) and the programs only tests load (tests/bpf/progs/).
find_program(CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/bin REQUIRED)
execute_process(COMMAND uname -m OUTPUT_VARIABLE QPS_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
set(QPS_BPF_ARCH_INCLUDE /usr/include/${QPS_ARCH}-linux-gnu)

# qps_bpf_skeletons(TARGET SRC_DIR DEPENDS <headers...> PROGS <names...>): compiles SRC_DIR/NAME.bpf.c
# into NAME.bpf.o in the current binary dir and its skeleton NAME.skel.h, and makes TARGET an
# interface library whose include directory holds the skeletons.
function(qps_bpf_skeletons target)
  cmake_parse_arguments(ARG "" "SRC_DIR" "DEPENDS;PROGS" ${ARGN})
  set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  file(MAKE_DIRECTORY ${skel_dir})
  set(skels)
  foreach(prog IN LISTS ARG_PROGS)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/${prog}.bpf.o)
    set(skel ${skel_dir}/${prog}.skel.h)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CLANG} -target bpf -O2 -g -Wall -Werror
              -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf -I${QPS_BPF_ARCH_INCLUDE}
              -c ${ARG_SRC_DIR}/${prog}.bpf.c -o ${obj}
      DEPENDS ${ARG_SRC_DIR}/${prog}.bpf.c ${ARG_DEPENDS}
      COMMENT "BPF ${prog}.bpf.c")
    add_custom_command(
      OUTPUT ${skel}
      COMMAND ${BPFTOOL} gen skeleton ${obj} name ${prog} > ${skel}
      DEPENDS ${obj}
      COMMENT "skeleton ${prog}.skel.h")
    list(APPEND skels ${skel})
  endforeach()
  add_custom_target(${target}_skels DEPENDS ${skels})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_skels)
  target_include_directories(${target} INTERFACE ${skel_dir})
  target_link_libraries(${target} INTERFACE PkgConfig::LIBBPF)
endfunction()
