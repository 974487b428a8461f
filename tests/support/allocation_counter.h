// Counts the heap allocations a thread makes, to prove that code on the
// pick path allocates nothing. Linking this file replaces the global
// operator new/delete of the program (the only way to also see allocations
// inside absl or the standard library); counting is off unless an
// AllocationCounter is alive on the allocating thread.
#ifndef VLB_TESTS_SUPPORT_ALLOCATION_COUNTER_H_
#define VLB_TESTS_SUPPORT_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace vlb::testing {

class AllocationCounter {
 public:
  // Starts counting this thread's allocations (nesting is not supported).
  AllocationCounter();
  ~AllocationCounter();
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  // Allocations this thread made since construction.
  int64_t count() const;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_ALLOCATION_COUNTER_H_
