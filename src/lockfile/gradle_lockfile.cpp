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
  std::string_view text = input.text;
  int number = 0;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;
    ++number;
    if (line.empty() || line.starts_with('#') || line.starts_with("empty=")) continue;
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
  }
  return dependencies;
}

}  // namespace pkgtrust::lockfile
