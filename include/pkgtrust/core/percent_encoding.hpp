// Percent-encoding (RFC 3986) shared by purls and upstream URLs.
#pragma once

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

}  // namespace pkgtrust::core
