// PayloadDecoder: telemetry payload bytes -> Samples (CONTRACT §1). A plain
// sample takes a one-pass fast path; everything else simdjson On-Demand, with a
// reused parser. Both read a reused padded copy of the payload.
//
// Thread: one decoder per worker; not thread-safe. Steady state allocates
// nothing: the padded buffer, the parser and the output Samples keep their
// capacity between calls.
#ifndef PRECALL_DEVICES_DECODER_H_
#define PRECALL_DEVICES_DECODER_H_

#include <memory>
#include <string_view>
#include <vector>

#include "devices/reject_reason.h"
#include "devices/sample.h"

namespace precall::devices {

class PayloadDecoder {
 public:
  PayloadDecoder();
  ~PayloadDecoder();
  PayloadDecoder(const PayloadDecoder&) = delete;
  PayloadDecoder& operator=(const PayloadDecoder&) = delete;

  // Decodes one payload: a sample object, or an array of sample objects (a
  // batch, in array order). Returns a message-level reject (kTooLarge,
  // kBadJson, or kBadField when the root is neither an object nor an array),
  // in which case `samples()` is empty; else kNone, and `samples()` holds one
  // entry per sample, each with its own sample-level reject (kBadField,
  // kTooManyMetrics, kNonFinite or kNone). A syntax error anywhere rejects the
  // whole message as kBadJson, even after valid samples of a batch.
  // Unknown fields are ignored. The results stay valid until the next call.
  RejectReason Decode(std::string_view payload);

  const std::vector<Sample>& samples() const { return samples_view_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // The samples of the last call; reused in place, the surplus kept in a spare pool.
  std::vector<Sample> samples_view_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_DECODER_H_
