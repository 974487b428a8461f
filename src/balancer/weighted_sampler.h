// Weighted lookup for the weighted round robin picker: maps a position in
// [0, total weight) to the item whose share of the cumulative weights holds
// it, so each item owns one contiguous run of positions.
//
// Contiguity is the point: the picker draws positions from a Weyl sequence
// (each point 0.618 of the range after the previous one), so an item owning
// one run of share p is hit twice in a row only if p > 0.382, and never three
// times in a row below p = 0.618. An alias table is O(1) too but scatters an
// item over many runs, which lets sequence points land in the same item
// several times running.
//
// The search is a guide table (Chen & Asau's indexed search): positions are
// bucketed by their high bits into about two buckets per item, each bucket
// remembering the first item it overlaps, so a lookup scans about one entry
// and at worst binary-searches the items sharing one bucket.
#ifndef VLB_SRC_BALANCER_WEIGHTED_SAMPLER_H_
#define VLB_SRC_BALANCER_WEIGHTED_SAMPLER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace vlb::internal {

// Holds any number of tables in two shared arrays, so that building many
// small ones (one per version group) costs no allocation per table. Build
// once, then Find() from any number of threads.
class WeightedSampler {
 public:
  struct Table {
    uint64_t total = 0;  // sum of weights; 0 for an empty table
    uint32_t entries_begin = 0;
    uint32_t size = 0;
    uint32_t guide_begin = 0;
    uint32_t shift = 0;  // bucket = position >> shift
  };

  // Adds a table where items[i] owns weights[i] positions. Weights must be
  // positive and their sum must fit in 64 bits.
  Table Add(absl::Span<const uint32_t> items,
            absl::Span<const uint64_t> weights);

  // The item owning `position`, which must be below table.total (> 0).
  uint32_t Find(const Table& table, uint64_t position) const;

 private:
  struct Entry {
    uint64_t end;  // cumulative weight up to and including this item
    uint32_t item;
  };

  std::vector<Entry> entries_;
  // Per table: for each bucket, the index (relative to the table) of the
  // item holding the bucket's first position; then one more entry, the last
  // item, which bounds the search in the last bucket.
  std::vector<uint32_t> guide_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_WEIGHTED_SAMPLER_H_
