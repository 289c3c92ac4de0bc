// gradle.lockfile (Gradle's dependency locking): one `group:artifact:version=configurations`
// line per locked module, `#` comments, and an `empty=` line naming configurations that
// lock nothing.
#include <algorithm>
#include <string_view>
#include <vector>

#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

// Gradle writes every line itself, so a line that is none of the three kinds means the
// file is not a Gradle lockfile (or was edited badly); scalibr skips such lines, but a
// risk check that silently dropped one could miss a package, so it is an error here.
Dependencies ParseGradleLockfile(const LockfileInput& input) {
  std::vector<LockedDependency> dependencies;
  core::Status status = ForEachLine(input.text, [&](std::string_view text, int number) -> core::Status {
    std::string_view line = Trim(text);
    if (line.empty() || line.starts_with('#') || line.starts_with("empty=")) return core::Status::Ok();
    std::string_view coordinates = line.substr(0, line.find('='));
    std::size_t first = coordinates.find(':');
    std::size_t last = coordinates.rfind(':');
    bool well_formed = line.find('=') != std::string_view::npos && first != std::string_view::npos &&
                       std::count(coordinates.begin(), coordinates.end(), ':') == 2 && first > 0 &&
                       last > first + 1 && last + 1 < coordinates.size() &&
                       coordinates.find_first_of(" \t") == std::string_view::npos;
    if (!well_formed) return ParseError(input, number, "expected `group:artifact:version=configurations`");
    // group:artifact is the Maven name; the purl builder splits it back at the colon.
    dependencies.push_back(Dependency(core::Ecosystem::kMaven, coordinates.substr(0, last),
                                      coordinates.substr(last + 1), number));
    return core::Status::Ok();
  });
  if (!status.ok()) return status;
  return dependencies;
}

}  // namespace pkgtrust::lockfile
