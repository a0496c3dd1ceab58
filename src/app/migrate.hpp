#pragma once
// `progimage migrate`: brings the catalog's schema up to date and nothing
// else, for deployments that migrate once before starting (or upgrading)
// their nodes. Nodes also migrate at start, under the same lock.
namespace progimage::app {

/// Runs `progimage migrate [--catalog URL] [--config FILE] [--json]` (argv[1]
/// is "migrate"; settings are read as `progimage serve` reads them). Prints
/// the version before and after and the versions applied; returns 0, 1 when
/// the catalog cannot be opened or migrated, 2 for bad settings.
int migrate(int argc, const char* const* argv);

}  // namespace progimage::app
