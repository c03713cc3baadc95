#pragma once
#include <cstdint>

namespace greenfleet::serving {

class Instance;

// What an instance does with the requests it runs. A unified instance runs them whole; a prefill instance runs
// each prompt and its first token and then hands the request on; a decode instance takes requests handed over
// with their KV (Instance::accept) and generates the rest; a draft instance runs the draft model for the
// speculative requests of one target instance (Speculation) and nothing else.
enum class InstanceRole : std::uint8_t { kUnified, kPrefill, kDecode, kDraft };

inline const char* to_string(InstanceRole r) {
  return r == InstanceRole::kUnified   ? "unified"
         : r == InstanceRole::kPrefill ? "prefill"
         : r == InstanceRole::kDecode  ? "decode"
                                       : "draft";
}

// Receives the requests a prefill instance hands on: the request (pool slot `slot`) has left `from` with its
// progress in its RequestState (prompt done, first token produced, `kv_tokens()` tokens of KV, whose size is
// `from.kv_bytes(request)`); the receiver passes it to a decode instance's accept(), now or after a transfer.
class HandoffSink {
 public:
  virtual ~HandoffSink() = default;
  virtual void on_handoff(Instance& from, std::uint32_t slot) = 0;
  // The decode instance `to` admitted the handed-over request (pool slot `slot`) and reserved blocks for its KV
  // and next token: the transfer may start. Called while `to` forms a step: the receiver must not call back into
  // `to` before returning (the transfer's end comes as an event: Instance::kv_arrived()). The sending instance
  // holds its blocks until Instance::release_held().
  virtual void on_kv_reserved(Instance& to, std::uint32_t slot) = 0;
};

}  // namespace greenfleet::serving
