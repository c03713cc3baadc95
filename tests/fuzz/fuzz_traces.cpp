// One trace reader (chosen at compile time: FUZZ_READER 0 Azure CSV, 1 Mooncake JSONL, 2 BurstGPT CSV) and the
// window / rate-scale / offline transforms, with both bad-row policies.
#include <memory>

#include "fuzz_support.hpp"
#include "sim/workload/azure_csv.hpp"
#include "sim/workload/burstgpt_csv.hpp"
#include "sim/workload/mooncake_jsonl.hpp"
#include "sim/workload/transforms.hpp"

namespace {

std::unique_ptr<greenfleet::workload::RequestSource> open(const std::string& path,
                                                          greenfleet::text::BadRowPolicy policy) {
  using namespace greenfleet::workload;
#if FUZZ_READER == 0
  return std::make_unique<AzureCsvSource>(path, policy);
#elif FUZZ_READER == 1
  return std::make_unique<MooncakeJsonlSource>(path, policy);
#else
  return std::make_unique<BurstGptCsvSource>(path, policy, "");
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace greenfleet;
#if FUZZ_READER == 1
  const std::string path = fuzz::write_input(data, size, ".jsonl");
#else
  const std::string path = fuzz::write_input(data, size, ".csv");
#endif
  for (const auto policy : {text::BadRowPolicy::kError, text::BadRowPolicy::kSkip}) {
    fuzz::expect_input_errors_only([&] {
      workload::RequestSpec r;
      auto plain = open(path, policy);
      for (int i = 0; i < 100000 && plain->next(r);) ++i;
    });
    fuzz::expect_input_errors_only([&] {
      workload::TransformSpec spec;
      spec.window_start = core::kSecond;
      spec.rate_scale = size % 2 ? 1e-6 : 3.5;  // the extremes of workload.rate_scale's range stretch arrivals
      spec.offline_share = 0.5;
      spec.offline_deadline = 100LL * 365 * 24 * core::kHour;
      workload::TransformedSource t(open(path, policy), spec, 1);
      workload::RequestSpec r;
      for (int i = 0; i < 100000 && t.next(r);) ++i;
    });
  }
  return 0;
}
