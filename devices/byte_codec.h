// ByteWriter / ByteReader: the small binary encoding of checkpoints (device
// state and rule states persisted by the gateway for crash recovery).
// Varints for counts and sequence numbers, fixed 8 bytes (little-endian) for
// times and doubles, length-prefixed strings. The reader never reads past its
// input: any malformed or truncated blob leaves it !ok(), and every read
// after that returns zero values.
//
// Pure; any thread; no state beyond the buffer it is given.
#ifndef PRECALL_DEVICES_BYTE_CODEC_H_
#define PRECALL_DEVICES_BYTE_CODEC_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace precall::devices {

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void I64(int64_t v) { Fixed64(static_cast<uint64_t>(v)); }
  void F64(double v) { Fixed64(std::bit_cast<uint64_t>(v)); }
  void Str(std::string_view s) {
    Varint(s.size());
    out_.append(s);
  }

 private:
  std::string& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }

  uint8_t U8() {
    if (!Need(1)) return 0;
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!Need(1)) return 0;
      const uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok_ = false;  // more than 10 bytes
    return 0;
  }
  uint64_t Fixed64() {
    if (!Need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(Fixed64()); }
  double F64() { return std::bit_cast<double>(Fixed64()); }
  std::string_view Str() {
    const uint64_t n = Varint();
    if (!Need(n)) return {};
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  // A count of items that each take at least `min_bytes`: rejects counts the
  // rest of the input cannot hold, so a corrupt count cannot make a caller
  // reserve or loop absurdly.
  uint64_t Count(std::size_t min_bytes) {
    const uint64_t n = Varint();
    if (min_bytes > 0 && n > in_.size() / min_bytes) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  bool ok_ = true;
};

// FNV-1a: a hash that stays the same across builds and runs (unlike
// absl::Hash), for what checkpoints persist.
inline uint64_t StableHash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_BYTE_CODEC_H_
