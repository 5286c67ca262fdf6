#pragma once
// Memory for the state of one chain of asynchronous operations (a connection's reads, or its
// writes), handed to Asio through the completion handler's associated allocator.
//
// Asio allocates every operation (the reactor op that holds the whole Beast handler chain)
// through that allocator and frees it before it calls the handler, so a chain that starts its
// next operation from the handler needs one block at a time. Without it each frame's read and
// write allocate from the heap: the handler chains are over 1 KiB, and a heap allocation of
// that size makes glibc first consolidate its small-chunk lists (malloc_consolidate was ~4 %
// of an I/O thread at 200 connections x 1 event).
//
// A request that does not fit, or that comes while the block is in use, goes to the heap.

#include <atomic>
#include <cstddef>
#include <new>
#include <utility>

#include <boost/asio/bind_allocator.hpp>

namespace yiwang::ingest {

// Block sizes for a WebSocket connection over a beast::tcp_stream, the server's sessions and
// the bench client's connections alike. With Boost 1.81 a read chain takes 752 bytes and a
// write chain 1,272 (tests/ingest/handler_memory_test.cc fails if they outgrow these).
inline constexpr std::size_t kWsReadChainBytes = 1024;
inline constexpr std::size_t kWsWriteChainBytes = 1536;

// `Bytes` of memory, reused; sized for the chain it serves.
template <std::size_t Bytes>
class HandlerMemory {
 public:
  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* Allocate(std::size_t bytes, std::size_t align) {
    // Freed on whichever I/O thread completes the operation; taken again by the handler,
    // which runs after it (acquire/release order the two).
    if (bytes <= sizeof(block_) && align <= alignof(std::max_align_t) &&
        !in_use_.exchange(true, std::memory_order_acquire))
      return block_;
    heap_allocations_.fetch_add(1, std::memory_order_relaxed);
    return ::operator new(bytes, std::align_val_t(align));
  }
  // Whether an operation holds the block now.
  bool in_use() const { return in_use_.load(std::memory_order_acquire); }
  // Requests that went to the heap (too big, or the block was in use).
  std::size_t heap_allocations() const { return heap_allocations_.load(std::memory_order_relaxed); }
  void Deallocate(void* p, std::size_t align) {
    if (p == block_) {
      in_use_.store(false, std::memory_order_release);
      return;
    }
    ::operator delete(p, std::align_val_t(align));
  }

 private:
  alignas(std::max_align_t) unsigned char block_[Bytes];
  std::atomic<bool> in_use_{false};
  std::atomic<std::size_t> heap_allocations_{0};
};

// The standard-allocator face of a HandlerMemory, for asio::bind_allocator (see WithMemory).
template <typename T, std::size_t Bytes>
class HandlerAllocator {
 public:
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = HandlerAllocator<U, Bytes>;
  };

  explicit HandlerAllocator(HandlerMemory<Bytes>& memory) noexcept : memory_(&memory) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U, Bytes>& other) noexcept : memory_(other.memory_) {}

  T* allocate(std::size_t n) {
    return static_cast<T*>(memory_->Allocate(sizeof(T) * n, alignof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { memory_->Deallocate(p, alignof(T)); }

  template <typename U>
  bool operator==(const HandlerAllocator<U, Bytes>& other) const noexcept {
    return memory_ == other.memory_;
  }

 private:
  template <typename, std::size_t>
  friend class HandlerAllocator;
  HandlerMemory<Bytes>* memory_;
};

// `handler`, with its operations' memory taken from `memory`.
template <std::size_t Bytes, typename Handler>
auto WithMemory(HandlerMemory<Bytes>& memory, Handler&& handler) {
  return boost::asio::bind_allocator(HandlerAllocator<char, Bytes>(memory),
                                     std::forward<Handler>(handler));
}

}  // namespace yiwang::ingest
