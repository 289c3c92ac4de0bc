// Percent-encoding (RFC 3986) shared by purls and upstream URLs.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::core {

// Encodes every byte but the unreserved characters (letters, digits, "-._~") and the
// characters listed in `also_safe`, as %XX with upper-case hex digits.
std::string PercentEncode(std::string_view text, std::string_view also_safe = {});

// Decodes %XX sequences; with `plus_as_space` (query strings), '+' is a space. A '%' not
// followed by two hex digits is an error.
Result<std::string> PercentDecode(std::string_view text, bool plus_as_space = false);

// A query string ("a=1&b=x%20y") as decoded name -> value (the last of repeated names wins);
// an error for a bad %-escape.
Result<std::map<std::string, std::string>> ParseQueryString(std::string_view query);

}  // namespace pkgtrust::core
