// The shipped config files, compiled in: what `pkgtrust dev` runs with.
#pragma once

namespace pkgtrust::app {
extern const char* const kEmbeddedConfigYaml;
extern const char* const kEmbeddedTopologyYaml;
}  // namespace pkgtrust::app
