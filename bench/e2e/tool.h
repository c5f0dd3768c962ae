// What the two benchmark tools (load generator, sink) share besides the
// fleet: `--name value` flags and the wall clock in µs (the clock both ends of
// a latency measurement read). Main thread only.
#ifndef PRECALL_BENCH_E2E_TOOL_H_
#define PRECALL_BENCH_E2E_TOOL_H_

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace precall::bench {

// Realtime, not monotonic: the generator's intended send time travels inside
// the payload and another process subtracts it from its own clock.
inline int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

class Flags {
 public:
  // `--name value` pairs; exits 2 with `usage` on anything else.
  Flags(int argc, char** argv, const char* usage) : usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help" || a.rfind("--", 0) != 0 || i + 1 >= argc) Fail(a);
      values_[a.substr(2)] = argv[++i];
    }
  }
  std::string Str(const std::string& name, const std::string& def) {
    used_[name] = true;
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second;
  }
  int64_t Int(const std::string& name, int64_t def) {
    std::string v = Str(name, std::to_string(def));
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0') Fail("--" + name + " " + v);
    return x;
  }
  // Call after reading every flag: an unknown flag is a typo, not a default.
  void CheckAllUsed() {
    for (const auto& [name, value] : values_) {
      if (!used_.count(name)) Fail("--" + name);
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& what) {
    std::fprintf(stderr, "bad argument: %s\n%s", what.c_str(), usage_);
    std::exit(2);
  }
  const char* usage_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

}  // namespace precall::bench

#endif  // PRECALL_BENCH_E2E_TOOL_H_
