// ChunkedVector<T>: an append-only sequence whose elements never move,
// stored in chunks of 2^kChunkLog2 elements allocated whole. A worker's
// device entries live in one: std::deque, the obvious choice for stable
// addresses, gives each 336-byte entry a node of its own (libstdc++ fills
// nodes up to 512 bytes: one such entry), so one allocation per device with
// its malloc overhead and map slot; a chunk wastes nothing but its unused
// tail.
//
// Thread: none of its own; used by the one thread that owns it.
#ifndef PRECALL_GATEWAY_CORE_CHUNKED_VECTOR_H_
#define PRECALL_GATEWAY_CORE_CHUNKED_VECTOR_H_

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace precall::core {

template <typename T, std::size_t kChunkLog2 = 8>
class ChunkedVector {
 public:
  static constexpr std::size_t kChunk = std::size_t{1} << kChunkLog2;

  ChunkedVector() = default;
  ChunkedVector(const ChunkedVector&) = delete;
  ChunkedVector& operator=(const ChunkedVector&) = delete;
  ~ChunkedVector() {
    for (std::size_t i = size_; i > 0; --i) std::destroy_at(Slot(i - 1));
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return *Slot(i); }
  const T& operator[](std::size_t i) const { return *Slot(i); }
  T& back() { return *Slot(size_ - 1); }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if ((size_ >> kChunkLog2) == chunks_.size()) chunks_.push_back(std::make_unique<Chunk>());
    T* slot = ::new (static_cast<void*>(Slot(size_))) T(std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }

 private:
  struct Chunk {
    alignas(T) std::byte bytes[sizeof(T) * kChunk];
  };
  T* Slot(std::size_t i) const {
    return std::launder(reinterpret_cast<T*>(chunks_[i >> kChunkLog2]->bytes) + (i & (kChunk - 1)));
  }

  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_CHUNKED_VECTOR_H_
