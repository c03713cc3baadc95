#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace greenfleet::text {

// Parses "YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM|Z]" (a 'T' may separate date and time) to nanoseconds since
// 1970-01-01 UTC; false if malformed. Used by the trace readers, the carbon-intensity CSV reader and the
// experiment loader alike.
bool parse_timestamp(std::string_view text, std::int64_t& ns_since_epoch);
// The same; on failure `why` says what is wrong: the expected form, or the impossible part of a well-formed
// timestamp ("2023-02-30: February 2023 has 28 days", "offset +99:99 is not a UTC offset").
bool parse_timestamp(std::string_view text, std::int64_t& ns_since_epoch, std::string& why);

// The form parse_timestamp reads, for messages.
inline constexpr const char* kTimestampForm = "YYYY-MM-DD HH:MM:SS[.fff][+HH:MM]";

}  // namespace greenfleet::text
