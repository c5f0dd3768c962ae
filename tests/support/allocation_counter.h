// Counts heap allocations made on the current thread, so that tests can prove
// a steady-state path allocates nothing. Every unit-test binary links
// allocation_counter.cc, which replaces the global operator new and delete
// (every non-aligned form, so that all of them pair malloc with free: shared
// libraries such as simdjson use the nothrow form; this is allowed and
// ASan-compatible).
#ifndef PRECALL_TESTS_SUPPORT_ALLOCATION_COUNTER_H_
#define PRECALL_TESTS_SUPPORT_ALLOCATION_COUNTER_H_

#include <cstddef>

namespace precall::testing {

// Counts from construction until Stop() (or destruction); not reentrant.
class AllocationCounter {
 public:
  AllocationCounter();
  ~AllocationCounter();
  // Stops counting and returns the number of allocations seen.
  std::size_t Stop();
};

}  // namespace precall::testing

#endif  // PRECALL_TESTS_SUPPORT_ALLOCATION_COUNTER_H_
