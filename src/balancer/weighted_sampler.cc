#include "balancer/weighted_sampler.h"

#include <algorithm>

namespace vlb::internal {
namespace {

// Below this many candidates a forward scan beats a binary search.
constexpr uint32_t kLinearScan = 8;

int BitWidth(uint64_t x) {
  int width = 0;
  while (x != 0) {
    ++width;
    x >>= 1;
  }
  return width;
}

}  // namespace

WeightedSampler::Table WeightedSampler::Add(
    absl::Span<const uint32_t> items, absl::Span<const uint64_t> weights) {
  Table table;
  table.entries_begin = static_cast<uint32_t>(entries_.size());
  table.size = static_cast<uint32_t>(items.size());
  table.guide_begin = static_cast<uint32_t>(guide_.size());
  for (size_t i = 0; i < items.size(); ++i) {
    table.total += weights[i];
    entries_.push_back(Entry{table.total, items[i]});
  }
  if (items.empty()) return table;

  // Buckets of 2^shift positions, the largest power of two not above the
  // mean weight: between one and two buckets per item.
  // At least 1: zero weights (not handed in today) must not shift by -1.
  const uint64_t mean = std::max<uint64_t>(table.total / items.size(), 1);
  table.shift = static_cast<uint32_t>(BitWidth(mean) - 1);
  const uint64_t buckets = ((table.total - 1) >> table.shift) + 1;
  const Entry* entries = entries_.data() + table.entries_begin;
  uint32_t k = 0;
  for (uint64_t b = 0; b < buckets; ++b) {
    const uint64_t first = b << table.shift;
    while (entries[k].end <= first) ++k;
    guide_.push_back(k);
  }
  guide_.push_back(table.size - 1);
  return table;
}

uint32_t WeightedSampler::Find(const Table& table, uint64_t position) const {
  const Entry* entries = entries_.data() + table.entries_begin;
  const uint32_t* guide =
      guide_.data() + table.guide_begin + (position >> table.shift);
  uint32_t lo = guide[0];
  const uint32_t hi = guide[1];  // the answer is in [lo, hi]
  if (hi - lo <= kLinearScan) {
    while (entries[lo].end <= position) ++lo;
    return entries[lo].item;
  }
  const Entry* it =
      std::upper_bound(entries + lo, entries + hi, position,
                       [](uint64_t p, const Entry& e) { return p < e.end; });
  return it->item;
}

}  // namespace vlb::internal
