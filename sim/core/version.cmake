# Regenerates version.hpp on every build so the git revision stored in outputs is the one built, rewriting
# the file only when it changes (no needless rebuilds).
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC_DIR}
  OUTPUT_VARIABLE GREENFLEET_GIT_REV OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC_DIR}
  OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GREENFLEET_GIT_REV)
  set(GREENFLEET_GIT_REV "unknown")
elseif(dirty)
  set(GREENFLEET_GIT_REV "${GREENFLEET_GIT_REV}-dirty")
endif()
configure_file(${SRC_DIR}/sim/core/version.hpp.in ${DST}.new @ONLY)
file(COPY_FILE ${DST}.new ${DST} ONLY_IF_DIFFERENT)
file(REMOVE ${DST}.new)
