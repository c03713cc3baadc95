#pragma once
#include <cstdint>
#include <string_view>

namespace greenfleet::text {

// Parses "YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM|Z]" (a 'T' may separate date and time) to nanoseconds since
// 1970-01-01 UTC; false if malformed. Used by the trace readers, the carbon-intensity CSV reader and the
// experiment loader alike.
bool parse_timestamp(std::string_view text, std::int64_t& ns_since_epoch);

}  // namespace greenfleet::text
