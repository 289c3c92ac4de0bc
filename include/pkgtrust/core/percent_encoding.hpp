// Percent-encoding (RFC 3986) shared by purls and upstream URLs.
#pragma once

#include <string>
#include <string_view>

namespace pkgtrust::core {

// Encodes every byte but the unreserved characters (letters, digits, "-._~") and the
// characters listed in `also_safe`, as %XX with upper-case hex digits.
std::string PercentEncode(std::string_view text, std::string_view also_safe = {});

}  // namespace pkgtrust::core
