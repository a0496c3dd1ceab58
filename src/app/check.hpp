#pragma once
// `progimage check`: is the data of a node sound? For operators after a crash
// or a restore, and for the contract tests, which must not open a backend's
// files themselves.
namespace progimage::app {

/// Runs `progimage check [--data DIR] [--catalog URL] [--storage URL]` (argv[1]
/// is "check"; the settings are read as `progimage serve` reads them). Opens the
/// backends as the server does, runs the catalog's integrity check and asks
/// the blob store whether it answers. Prints "ok" and returns 0, or one
/// problem per line and returns 1; bad settings return 2.
int check(int argc, const char* const* argv);

}  // namespace progimage::app
