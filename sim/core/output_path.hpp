#pragma once
#include <string>
#include <vector>

namespace greenfleet::core {

// What every command that writes a file promises (docs/ROBUSTNESS.md): the path is checked before any work,
// the file is written under PATH.tmp-PID and renamed into place, and the temporary file is removed on every
// error and on every fatal signal the process can catch.

// Checks that `path` can become an output file: not empty, not an existing directory, device, FIFO or other
// special file, not the same file as any of `inputs`, and its directory exists or can be created and is
// writable. Creates the directory. Throws InputError for a bad path (exit 2), EnvironmentError when the
// directory cannot be created or written (exit 3). Messages read "PATH: the WHAT is a directory ...": `what`
// names the file's role ("output file").
// `replaces`, when not empty, is how every file of this role begins (the HDF5 signature, a header line): an
// existing non-empty file that does not begin so was not written by greenfleet in this role and is refused
// (InputError) rather than replaced; an earlier output of the same command is replaced.
void check_output_path(const std::string& path, const std::vector<std::string>& inputs, const std::string& what,
                       const std::string& replaces = "");

// The first eight bytes of every HDF5 file (HDF5 file format specification, "Format Signature").
inline const std::string kHdf5Signature("\x89HDF\r\n\x1a\n", 8);

// The temporary name beside `path` used while it is written: PATH.tmp-PID.
std::string temporary_path(const std::string& path);

// Registers a temporary file to remove if a fatal signal arrives (SIGHUP, SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1,
// SIGUSR2, SIGXCPU, SIGVTALRM, SIGPROF, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS), after which
// the signal takes its default action. Installs the handlers on first use and ignores SIGXFSZ, so a write past
// a file-size limit fails (EFBIG, exit 3) instead of killing the process. Up to 64 files at once;
// forget_temporary(path) once the file has been renamed or removed.
void register_temporary(const std::string& path);
void forget_temporary(const std::string& path);

// Turns a failed write or create (errno `err`) into the exception the CLI maps to its exit code: an
// EnvironmentError (exit 3) for a full, read-only or unwritable disk or a file-size limit, whose message says
// what to do.
[[noreturn]] void throw_write_error(const std::string& what, int err);

}  // namespace greenfleet::core
