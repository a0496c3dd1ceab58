#pragma once
// `progimage sign`: a signed (and optionally expiring) transform URL, made
// with the server's URL signing secret — what an application's back end runs
// to hand out image URLs, like thumbor's `thumbor-url`.
namespace progimage::app {

/// Runs `progimage sign [--secret S] [--expires D | --expires-at T] [--json] URL`
/// (argv[1] is "sign"). Prints the URL with `exp` and `sig` appended and
/// returns 0; bad arguments print what to do and return 2.
int sign(int argc, const char* const* argv);

}  // namespace progimage::app
