#  =========================================================================
#  check_includes - no component includes another component's headers.
#
#  Components talk through events on the bus; what two sides of a wire
#  share lives beside the schemas, not in one of them. This check reads
#  every source and header under components/<name>/, backends/ and wire/ and
#  fails on an #include "X.h" where X.h is a header of another folder
#  under components/ (components/common is shared by all; wire/ holds what
#  both sides of usage.pattern and prediction.made share, with the codecs).
#
#  Known exceptions, each named with its reason: a new cross-component
#  include fails here; an exception that is no longer needed fails too,
#  so the list stays true.
#
#  Usage: cmake -DSOURCE_DIR=<repo> -P tests/layout/check_includes.cmake
#  =========================================================================
cmake_minimum_required(VERSION 3.18)
if(NOT SOURCE_DIR)
    message(FATAL_ERROR "check_includes: -DSOURCE_DIR=<repo> is required")
endif()

#  "file|header" pairs allowed for now, with why.
set(EXCEPTIONS
    #  The queue runs the resource manager's admission class (memory
    #  budget, machine sample) in its own process before it starts a warm.
    "components/queue/wp_queue_actor.c|wp_resource.h")
#  The definition table lists the components: it starts their actors.
set(TABLE "components/common/wp_registry.c")

#  Which folder each component header belongs to.
file(GLOB component_dirs LIST_DIRECTORIES true "${SOURCE_DIR}/components/*")
set(owners "")
foreach(dir ${component_dirs})
    if(NOT IS_DIRECTORY "${dir}")
        continue()
    endif()
    get_filename_component(name "${dir}" NAME)
    if(name STREQUAL "common")
        continue()
    endif()
    file(GLOB headers "${dir}/*.h")
    foreach(header ${headers})
        get_filename_component(base "${header}" NAME)
        set(owner_${base} "${name}")
        list(APPEND owners "${base}")
    endforeach()
endforeach()

file(GLOB_RECURSE sources RELATIVE "${SOURCE_DIR}"
     "${SOURCE_DIR}/components/*.c" "${SOURCE_DIR}/components/*.h"
     "${SOURCE_DIR}/backends/*.c" "${SOURCE_DIR}/backends/*.h"
     "${SOURCE_DIR}/wire/*.c" "${SOURCE_DIR}/wire/*.h")
set(failures 0)
set(used "")
foreach(source ${sources})
    if(source STREQUAL TABLE)
        continue()
    endif()
    string(REGEX MATCH "^components/([^/]+)/" in_component "${source}")
    set(folder "${CMAKE_MATCH_1}")
    if(NOT in_component)
        string(REGEX MATCH "^[^/]+" folder "${source}")
    endif()
    file(STRINGS "${SOURCE_DIR}/${source}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line ${lines})
        string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" header "${line}")
        if(NOT header IN_LIST owners)
            continue()
        endif()
        set(owner "${owner_${header}}")
        if(owner STREQUAL folder)
            continue()
        endif()
        if("${source}|${header}" IN_LIST EXCEPTIONS)
            list(APPEND used "${source}|${header}")
            continue()
        endif()
        message(SEND_ERROR "${source} includes ${header}, a header of the ${owner} "
                "component: components talk through events; what both sides share "
                "belongs beside the schemas")
        math(EXPR failures "${failures} + 1")
    endforeach()
endforeach()
foreach(exception ${EXCEPTIONS})
    if(NOT exception IN_LIST used)
        string(REPLACE "|" " includes " text "${exception}")
        message(SEND_ERROR "no longer true: '${text}', a known exception of "
                "tests/layout/check_includes.cmake: remove it from the list")
        math(EXPR failures "${failures} + 1")
    endif()
endforeach()
if(failures GREATER 0)
    message(FATAL_ERROR "check_includes: ${failures} problem(s)")
endif()
list(LENGTH sources checked)
message(STATUS "check_includes: ${checked} files, no component includes another's "
        "headers (known exception: the queue's admission)")
