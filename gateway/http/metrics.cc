#include "gateway/http/metrics.h"

#include <limits>
#include <sstream>
#include <utility>

#include "devices/reject_reason.h"
#include "devices/severity.h"
#include "gateway/core/case.h"
#include "prometheus/text_serializer.h"

namespace precall::http {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// A counter or gauge sample (by the family's type).
void Add(MetricFamily& f, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

// One histogram summing `parts` (same bounds), values scaled to base units.
void AddHistogram(MetricFamily& f, const std::vector<const core::FixedHistogram*>& parts,
                  double scale) {
  ClientMetric m;
  if (parts.empty()) {
    m.histogram.bucket.push_back({0, std::numeric_limits<double>::infinity()});
    f.metric.push_back(std::move(m));
    return;
  }
  const auto bounds = parts.front()->bounds();
  uint64_t cumulative = 0, sum = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    for (const core::FixedHistogram* h : parts) cumulative += h->bucket(i);
    const double le = i < bounds.size() ? static_cast<double>(bounds[i]) * scale
                                        : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, le});
  }
  for (const core::FixedHistogram* h : parts) sum += h->sum();
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(sum) * scale;
  f.metric.push_back(std::move(m));
}

double Read(const std::function<uint64_t()>& f) { return f ? static_cast<double>(f()) : 0.0; }

// A family of one unlabelled counter or gauge.
void AddScalar(std::vector<MetricFamily>& out, std::string name, std::string help, MetricType type,
               double value) {
  MetricFamily& f = out.emplace_back(Family(std::move(name), std::move(help), type));
  Add(f, value);
}

// A family of one histogram; `parts` empty (not wired) gives an empty one.
void AddHistogramFamily(std::vector<MetricFamily>& out, std::string name, std::string help,
                        const std::vector<const core::FixedHistogram*>& parts, double scale) {
  MetricFamily& f =
      out.emplace_back(Family(std::move(name), std::move(help), MetricType::Histogram));
  AddHistogram(f, parts, scale);
}

// A family with one sample per severity.
template <typename Get>
void AddBySeverity(std::vector<MetricFamily>& out, std::string name, std::string help,
                   MetricType type, Get get) {
  MetricFamily& f = out.emplace_back(Family(std::move(name), std::move(help), type));
  for (int i = 0; i < devices::kSeverityCount; ++i) {
    const auto severity = static_cast<devices::Severity>(i);
    Add(f, get(severity), {{"severity", std::string(devices::SeverityName(severity))}});
  }
}

std::vector<const core::FixedHistogram*> Optional(const core::FixedHistogram* h) {
  if (h == nullptr) return {};
  return {h};
}

constexpr double kMsToS = 1e-3;
constexpr double kUsToS = 1e-6;

}  // namespace

std::vector<MetricFamily> MetricsCollector::Collect() const {
  const MetricsSources& s = sources_;
  std::vector<const core::WorkerCounters*> workers;
  for (int i = 0; i < s.workers && s.worker_counters; ++i) workers.push_back(&s.worker_counters(i));
  auto sum = [&workers](auto get) {
    uint64_t n = 0;
    for (const core::WorkerCounters* w : workers) n += get(*w);
    return static_cast<double>(n);
  };
  std::vector<MetricFamily> out;

  AddScalar(out, "precall_messages_received_total",
            "MQTT messages handed to the workers (telemetry and status).", MetricType::Counter,
            sum([](const auto& w) { return w.messages_received.Get(); }));

  MetricFamily& rejected = out.emplace_back(
      Family("precall_messages_rejected_total",
             "Messages, or samples of a batch, dropped, by reason.", MetricType::Counter));
  for (int r = 1; r < devices::kRejectReasonCount; ++r) {  // 0 is kNone
    Add(rejected, sum([r](const auto& w) { return w.rejected[r].Get(); }),
        {{"reason",
          std::string(devices::RejectReasonName(static_cast<devices::RejectReason>(r)))}});
  }

  AddScalar(out, "precall_samples_processed_total", "Samples accepted and applied to device state.",
            MetricType::Counter, sum([](const auto& w) { return w.samples_processed.Get(); }));
  AddScalar(out, "precall_rule_evaluations_total", "Rule evaluations.", MetricType::Counter,
            sum([](const auto& w) { return w.rule_evaluations.Get(); }));

  const core::CaseBook* cases = s.cases;
  AddBySeverity(out, "precall_cases_opened_total", "Cases opened, by severity.",
                MetricType::Counter, [cases](devices::Severity v) {
                  return cases ? static_cast<double>(cases->opened_total(v)) : 0.0;
                });
  AddBySeverity(out, "precall_cases_active", "Cases open or acknowledged now, by severity.",
                MetricType::Gauge, [cases](devices::Severity v) {
                  return cases ? static_cast<double>(cases->active(v)) : 0.0;
                });

  MetricFamily& events = out.emplace_back(
      Family("precall_case_events_total", "Case events, by type.", MetricType::Counter));
  for (int i = 0; i < core::kEventTypeCount; ++i) {
    const auto type = static_cast<core::EventType>(i);
    Add(events, s.cases ? static_cast<double>(s.cases->events_total(type)) : 0.0,
        {{"type", std::string(core::EventTypeName(type))}});
  }

  AddScalar(out, "precall_case_commit_failures_total", "Case events the store failed to commit.",
            MetricType::Counter, Read(s.commit_failures));
  AddScalar(out, "precall_broker_connected",
            "1 while the telemetry connection to the broker is up.", MetricType::Gauge,
            s.broker_connected && s.broker_connected() ? 1.0 : 0.0);

  std::vector<const core::FixedHistogram*> lag, case_latency;
  for (const core::WorkerCounters* w : workers) {
    lag.push_back(&w->ingest_lag_ms);
    case_latency.push_back(&w->case_latency_ms);
  }
  AddHistogramFamily(out, "precall_ingest_lag_seconds",
                     "Sample event time (ts) to the worker processing it.", lag, kMsToS);
  AddHistogramFamily(out, "precall_case_latency_seconds",
                     "Event time (ts) of a message's last sample to its case events committed.",
                     case_latency, kMsToS);
  AddHistogramFamily(out, "precall_journal_write_seconds",
                     "Journal writes that reach the file system (a new segment, or a sync).",
                     Optional(s.journal_write_us), kUsToS);
  AddHistogramFamily(out, "precall_store_write_seconds",
                     "Case store writes (one atomic batch of case changes).",
                     Optional(s.store_write_us), kUsToS);

  MetricFamily& ring = out.emplace_back(
      Family("precall_ring_depth", "Messages waiting in each worker's ring.", MetricType::Gauge));
  for (int i = 0; i < s.workers; ++i) {
    Add(ring, s.ring_depth ? static_cast<double>(s.ring_depth(i)) : 0.0,
        {{"worker", std::to_string(i)}});
  }

  AddScalar(out, "precall_devices_known", "Devices the workers hold state for.", MetricType::Gauge,
            sum([](const auto& w) { return w.devices_known.Get(); }));
  AddScalar(out, "precall_rules_loaded", "Rules in the active rule set.", MetricType::Gauge,
            Read(s.rules_loaded));

  MetricFamily& reloads = out.emplace_back(Family(
      "precall_rule_reloads_total", "Rule reloads (SIGHUP), by result.", MetricType::Counter));
  Add(reloads, Read(s.reloads_ok), {{"result", "ok"}});
  Add(reloads, Read(s.reloads_failed), {{"result", "error"}});

  AddScalar(out, "precall_checkpointed_journal_seq",
            "Journal seq up to which device checkpoints hold every message; a restart "
            "re-applies the journal after it.",
            MetricType::Gauge, Read(s.checkpointed_journal_seq));

  AddScalar(out, "precall_outbox_depth", "Case events waiting for the broker to acknowledge them.",
            MetricType::Gauge, Read(s.outbox_depth));
  AddScalar(out, "precall_case_event_publications_refused_total",
            "Case event publications the broker refused (MQTT 5 reason code >= 0x80, e.g. its "
            "ACL); each retry counts. The events stay in the outbox and are retried.",
            MetricType::Counter, Read(s.publications_refused));
  AddScalar(out, "precall_retained_telemetry_dropped_total",
            "Retained telemetry the broker sent on subscribing (an old sample, sent again at "
            "every restart and reconnection), dropped unprocessed.",
            MetricType::Counter, Read(s.retained_telemetry_dropped));
  return out;
}

std::string ExpositionText(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace precall::http
