#pragma once
// `progimage copy`: moves an installation to another catalog and blob store
// (copy/), with a progress bar, JSON output and errors that say what to do.

namespace progimage::app {

/// Runs `progimage copy ARGS`; argv[1] is "copy". Returns the exit status.
int copy(int argc, const char* const* argv);

}  // namespace progimage::app
