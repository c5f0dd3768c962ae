// The gateway's Prometheus metrics (CONTRACT §5), gathered at scrape time.
//
// Nothing here runs per message: the hot path writes per-worker relaxed
// atomics and fixed-bucket histograms (core/counters.h), and Collect() sums
// them when Prometheus scrapes. No metric is labelled by device or tenant;
// the only labels are bounded sets (reason, severity, type, worker, result).
//
// Every source is optional: one that is not wired reads as zero, so the
// exposition always carries every metric family.
//
// Thread: Collect() from any thread (the HTTP server's); the sources must be
// safe to read from it and must outlive the collector.
#ifndef PRECALL_GATEWAY_HTTP_METRICS_H_
#define PRECALL_GATEWAY_HTTP_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gateway/core/case_book.h"
#include "gateway/core/counters.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace precall::http {

struct MetricsSources {
  int workers = 0;
  std::function<const core::WorkerCounters&(int worker)> worker_counters;
  std::function<std::size_t(int worker)> ring_depth;
  const core::CaseBook* cases = nullptr;
  std::function<bool()> broker_connected;
  std::function<uint64_t()> outbox_depth;
  std::function<uint64_t()> publications_refused;  // case event PUBACKs >= 0x80
  std::function<uint64_t()> retained_telemetry_dropped;  // MqttIngest
  std::function<uint64_t()> rules_loaded;
  std::function<uint64_t()> reloads_ok;
  std::function<uint64_t()> reloads_failed;
  std::function<uint64_t()> commit_failures;  // case events the store refused
  std::function<uint64_t()> checkpointed_journal_seq;
  const core::FixedHistogram* journal_write_us = nullptr;
  const core::FixedHistogram* store_write_us = nullptr;
};

class MetricsCollector final : public prometheus::Collectable {
 public:
  explicit MetricsCollector(MetricsSources sources) : sources_(std::move(sources)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  MetricsSources sources_;
};

// The Prometheus text exposition format (version 0.0.4).
std::string ExpositionText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace precall::http

#endif  // PRECALL_GATEWAY_HTTP_METRICS_H_
