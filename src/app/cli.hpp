// The `pkgtrust` command line: serve, dev, check-config, --help, --version.
#pragma once

namespace pkgtrust::app {

// Runs the command; returns the process exit code (0 ok, 1 failure, 2 usage error).
int RunCli(int argc, char** argv);

}  // namespace pkgtrust::app
