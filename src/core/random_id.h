// Random identifiers for API objects ("chatcmpl-...", "call_...", conversation ids): a prefix
// and 24 characters of [A-Za-z0-9] from a per-thread generator seeded by the OS.
#pragma once

#include <string>
#include <string_view>

namespace cove {

std::string random_id(std::string_view prefix);

}  // namespace cove
