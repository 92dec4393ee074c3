#pragma once
// The protocol interface. A sink owns the connections of one worker's devices, runs them on the
// worker's event loop and never blocks or sleeps. It knows nothing of timing: the worker offers
// each message when it is due, and the sink takes it or says "not now".
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cli/options.hpp"
#include "core/time.hpp"
#include "engine/event_loop.hpp"
#include "metrics/recorder.hpp"

namespace lt {

enum class Offer : std::uint8_t {
  Taken,  // the sink owns the message: sent, or buffered until flush()
  Busy,   // connected but cannot take more now; the sink will call ready() when it can
  Down,   // not connected; the sink will call ready() once it is
};

// Implemented by the worker: a device that said Busy or Down can take messages again.
class SinkEvents {
 public:
  virtual ~SinkEvents() = default;
  virtual void ready(std::uint32_t local_device, Nanos now) = 0;
};

struct Target {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  // --source-ip: device d connects from sources[d % size]; empty = the kernel chooses.
  std::vector<sockaddr_storage> sources;
};

struct SinkContext {
  const Options& options;
  const Target& target;
  EventLoop& loop;
  const Clock& clock;
  Recorder& recorder;
  SinkEvents& events;
  std::vector<std::uint64_t> device_ids;  // global id of each local device
  std::uint32_t workers = 1;              // workers in this process (the devices' stride)
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Opens one device's connection (non-blocking; completion arrives through the loop). The
  // worker paces these calls (--connect-rate); reconnects after a failure are the sink's own.
  virtual void open(std::uint32_t local_device, Nanos now) = 0;
  // Devices ready to send; the worker waits for all (or the connect timeout) before the run.
  virtual std::uint32_t connected() const = 0;
  // Devices whose first connection attempt has ended, either way.
  virtual std::uint32_t settled() const = 0;
  virtual Offer offer(std::uint32_t local_device, std::uint64_t seq, Nanos intended, Nanos now) = 0;
  // End of a dispatch round: write out what offer() buffered (one write per connection).
  virtual void flush(Nanos now) = 0;
  // The last offer was made: send what confirms the rest (nats: a final PING).
  virtual void finish(Nanos) {}
  // After the last offer: true while replies or unsent bytes are still outstanding.
  virtual bool busy() const = 0;
  // Closes everything; what is still outstanding is counted (lost, or missed if never sent).
  virtual void stop(Nanos now) = 0;
};

}  // namespace lt
