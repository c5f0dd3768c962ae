#include "gateway/core/clock.h"

#include <chrono>

namespace precall::core {

int64_t WallClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace precall::core
