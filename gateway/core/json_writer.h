// Minimal JSON text building for the gateway's outputs (case events, API
// answers): appends to a caller-owned std::string, so a reused buffer makes
// serialization allocation-free once warm. Doubles use the shortest form that
// round-trips (std::to_chars), so output is byte-stable across runs.
// Pure functions; any thread.
#ifndef PRECALL_GATEWAY_CORE_JSON_WRITER_H_
#define PRECALL_GATEWAY_CORE_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace precall::core::json {

// A JSON string literal, quoted and escaped (control characters as \u00XX).
void AppendString(std::string& out, std::string_view s);
void AppendInt(std::string& out, int64_t v);
void AppendUint(std::string& out, uint64_t v);
// A finite double in shortest round-trip form, in plain digits from 1e-6 up
// to 1e21 ("1500", "107.2", "100000", "0.0001"; "1e+21", "1e-07" outside, as
// JavaScript writes numbers); non-finite values (never produced by the
// gateway) are written as null.
void AppendDouble(std::string& out, double v);

}  // namespace precall::core::json

#endif  // PRECALL_GATEWAY_CORE_JSON_WRITER_H_
