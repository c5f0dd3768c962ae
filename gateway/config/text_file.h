// Reading a user-named file (config, rules, devices) whole, with an error that
// says why not: a directory or a read error is not an empty file.
// Thread: any; no state.
#ifndef PRECALL_GATEWAY_CONFIG_TEXT_FILE_H_
#define PRECALL_GATEWAY_CONFIG_TEXT_FILE_H_

#include <string>

namespace precall::config {

// The bytes of `path` in `out`, or false and `error` ("cannot read file: Is
// a directory", ...).
bool ReadTextFile(const std::string& path, std::string& out, std::string& error);

}  // namespace precall::config

#endif  // PRECALL_GATEWAY_CONFIG_TEXT_FILE_H_
