// `pkgtrust import-access-log` and `pkgtrust adoption` (adoption/, docs/api.md "Adoption").
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace pkgtrust::app {

// import-access-log FILE --format nginx-combined [--ecosystem E] [--prefix P] [--config F | --db P]
int RunImportAccessLog(const std::vector<std::string>& args,
                       const std::function<int(const std::string&)>& usage);
// adoption ECOSYSTEM NAME [--from DAY] [--to DAY] [--json] [--config F | --db P]
int RunAdoptionCommand(const std::vector<std::string>& args,
                       const std::function<int(const std::string&)>& usage);

}  // namespace pkgtrust::app
