#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "sim/core/error.hpp"
#include "sim/text/timestamp.hpp"
#include "sim/workload/azure_csv.hpp"
#include "sim/workload/burstgpt_csv.hpp"
#include "sim/workload/mooncake_jsonl.hpp"
#include "sim/workload/synthetic.hpp"
#include "sim/workload/transforms.hpp"
#include "test_support.hpp"

using namespace greenfleet;
using workload::AzureCsvSource;

TEST_CASE("Azure timestamps: 2023 (7 digits, no zone) and 2024 (6 digits, +00:00) formats") {
  std::int64_t a = 0, b = 0;
  REQUIRE(text::parse_timestamp("2023-11-16 18:15:46.6805900", a));
  REQUIRE(text::parse_timestamp("2023-11-16 18:15:46.680591", b));
  CHECK(b - a == 1000);
  std::int64_t epoch = -1;
  REQUIRE(text::parse_timestamp("1970-01-01 00:00:01", epoch));
  CHECK(epoch == 1'000'000'000);
  std::int64_t z = 0, plus = 0;
  REQUIRE(text::parse_timestamp("2024-05-12 00:00:00.004566+00:00", z));
  REQUIRE(text::parse_timestamp("2024-05-12 02:00:00.004566+02:00", plus));
  CHECK(z == plus);
  std::int64_t leap = 0, next = 0;
  REQUIRE(text::parse_timestamp("2024-02-29 00:00:00", leap));
  REQUIRE(text::parse_timestamp("2024-03-01 00:00:00", next));
  CHECK(next - leap == 86400LL * 1'000'000'000);
  std::int64_t x;
  CHECK_FALSE(text::parse_timestamp("2023-13-01 00:00:00", x));
  CHECK_FALSE(text::parse_timestamp("yesterday", x));
  CHECK_FALSE(text::parse_timestamp("2023-11-16 18:15:46.", x));
}

TEST_CASE("Azure CSV rows stream in order with relative arrivals") {
  test::TempDir dir;
  const auto f = dir.write("t.csv",
                           "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                           "2023-11-16 18:15:46.5000000,374,44\r\n"
                           "2023-11-16 18:15:47.0000000,396,109\r\n");
  AzureCsvSource s(f, text::BadRowPolicy::kError);
  workload::RequestSpec r;
  REQUIRE(s.next(r));
  CHECK(r.arrival == 0);
  CHECK(r.prompt_tokens == 374);
  CHECK(r.output_tokens == 44);
  REQUIRE(s.next(r));
  CHECK(r.arrival == 500 * core::kMillisecond);
  CHECK(r.id == 1);
  CHECK_FALSE(s.next(r));
}

TEST_CASE("malformed trace rows: error with file:line by default, counted when skipped") {
  test::TempDir dir;
  const auto f = dir.write("bad.csv",
                           "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                           "2023-11-16 18:15:46.5,374,44\n"
                           "2023-11-16 18:15:47.0,abc,109\n"
                           "2023-11-16 18:15:48.0,10\n"
                           "2023-11-16 18:15:45.0,10,10\n"
                           "2023-11-16 18:15:49.0,10,0\n"
                           "2023-11-16 18:15:50.0,10,5\n");
  {
    AzureCsvSource s(f, text::BadRowPolicy::kError);
    workload::RequestSpec r;
    REQUIRE(s.next(r));
    const std::string expected = f + ":3: ContextTokens 'abc' is not a positive integer";
    CHECK_THROWS_WITH_AS(s.next(r), doctest::Contains(expected.c_str()), core::InputError);
  }
  AzureCsvSource s(f, text::BadRowPolicy::kSkip);
  workload::RequestSpec r;
  int n = 0;
  while (s.next(r)) ++n;
  CHECK(n == 2);
  CHECK(s.skipped_rows() == 4);  // bad number, short row, time going back, zero output
}

TEST_CASE("a trace without the expected header is rejected") {
  test::TempDir dir;
  const auto f = dir.write("h.csv", "time,in,out\n1,2,3\n");
  CHECK_THROWS_WITH_AS(AzureCsvSource(f, text::BadRowPolicy::kError), doctest::Contains(":1: header"),
                       core::InputError);
  CHECK_THROWS_AS(AzureCsvSource(dir.path("missing.csv"), text::BadRowPolicy::kError), core::InputError);
}

TEST_CASE("the real Azure conv trace parses completely") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  AzureCsvSource s(data + "/traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv", text::BadRowPolicy::kError);
  workload::RequestSpec r;
  std::uint64_t n = 0, prompt = 0;
  core::SimTime last = 0;
  while (s.next(r)) ++n, prompt += static_cast<std::uint64_t>(r.prompt_tokens), last = r.arrival;
  CHECK(n == 19366);  // SOURCE.md
  CHECK(static_cast<double>(prompt) / static_cast<double>(n) == doctest::Approx(1155).epsilon(0.01));
  CHECK(core::to_seconds(last) == doctest::Approx(58 * 60).epsilon(0.02));
}

TEST_CASE("synthetic workloads are reproducible and have the requested rate and lengths") {
  workload::SyntheticSpec spec;
  spec.requests = 50000;
  spec.rate = 10;
  spec.prompt.kind = workload::LengthDistribution::Kind::kLognormal;
  spec.prompt.mean = 1000;
  spec.prompt.sigma = 0.5;
  spec.prompt.max = 1e6;
  spec.output.kind = workload::LengthDistribution::Kind::kConstant;
  spec.output.value = 200;
  workload::SyntheticSource a(spec, 9), b(spec, 9);
  workload::RequestSpec ra, rb;
  double sum_prompt = 0;
  core::SimTime last = 0;
  while (a.next(ra)) {
    REQUIRE(b.next(rb));
    CHECK(ra.arrival == rb.arrival);
    CHECK(ra.prompt_tokens == rb.prompt_tokens);
    CHECK(ra.output_tokens == 200);
    CHECK(ra.arrival >= last);
    last = ra.arrival;
    sum_prompt += ra.prompt_tokens;
  }
  CHECK(sum_prompt / 50000 == doctest::Approx(1000).epsilon(0.02));
  CHECK(core::to_seconds(last) == doctest::Approx(5000).epsilon(0.02));
  // Gamma arrivals with cv 2 keep the mean rate.
  spec.gamma_arrivals = true;
  spec.cv = 2;
  workload::SyntheticSource g(spec, 9);
  while (g.next(ra)) last = ra.arrival;
  CHECK(core::to_seconds(last) == doctest::Approx(5000).epsilon(0.05));
}

TEST_CASE("Mooncake JSONL: timestamps in ms, lengths, and prefix hash ids kept") {
  test::TempDir dir;
  const auto f = dir.write(
      "m.jsonl",
      "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1, 2]}\n"
      "{\"timestamp\": 1500, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [], \"extra\": \"x\"}\n"
      "{\"timestamp\": 1600, \"input_length\": 10}\n"
      "not json\n"
      "{\"timestamp\": 1700, \"input_length\": 12, \"output_length\": 3, \"hash_ids\": [7]}\n");
  {
    workload::MooncakeJsonlSource s(f, text::BadRowPolicy::kError);
    workload::RequestSpec r;
    REQUIRE(s.next(r));
    CHECK(r.prompt_tokens == 6758);
    CHECK(r.output_tokens == 500);
    CHECK(r.prefix_hashes == std::vector<std::uint64_t>{0, 1, 2});
    REQUIRE(s.next(r));
    CHECK(r.arrival == 1500 * core::kMillisecond);
    CHECK(r.prefix_hashes.empty());
    const std::string expected = f + ":3: needs \"timestamp\", \"input_length\" and \"output_length\"";
    CHECK_THROWS_WITH_AS(s.next(r), doctest::Contains(expected.c_str()), core::InputError);
  }
  workload::MooncakeJsonlSource s(f, text::BadRowPolicy::kSkip);
  workload::RequestSpec r;
  int n = 0;
  while (s.next(r)) ++n;
  CHECK(n == 3);
  CHECK(s.skipped_rows() == 2);
  CHECK(r.prefix_hashes == std::vector<std::uint64_t>{7});
}

TEST_CASE("the real Mooncake conversation trace parses completely") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  workload::MooncakeJsonlSource s(data + "/traces/mooncake/conversation_trace.jsonl", text::BadRowPolicy::kError);
  workload::RequestSpec r;
  std::uint64_t n = 0, prompt = 0, hashes = 0;
  while (s.next(r)) ++n, prompt += static_cast<std::uint64_t>(r.prompt_tokens), hashes += r.prefix_hashes.size();
  CHECK(n == 12031);  // SOURCE.md
  CHECK(static_cast<double>(prompt) / static_cast<double>(n) == doctest::Approx(12035).epsilon(0.01));
  // 512-token blocks: a prompt of L tokens lists ceil(L / 512) hashes.
  CHECK(static_cast<double>(hashes) == doctest::Approx(static_cast<double>(prompt) / 512).epsilon(0.05));
}

TEST_CASE("BurstGPT CSV: relative seconds, model filter, failed requests are bad rows") {
  test::TempDir dir;
  const auto f = dir.write("b.csv",
                           "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                           "5,ChatGPT,472,18,490,Conversation log\n"
                           "6,GPT-4,1000,100,1100,Conversation log\n"
                           "7.5,ChatGPT,100,0,100,Conversation log\n"
                           "9,ChatGPT,20,30,50,API log\n");
  workload::BurstGptCsvSource s(f, text::BadRowPolicy::kSkip, "ChatGPT");
  workload::RequestSpec r;
  REQUIRE(s.next(r));
  CHECK(r.arrival == 0);
  CHECK(r.prompt_tokens == 472);
  REQUIRE(s.next(r));
  CHECK(r.arrival == 4 * core::kSecond);
  CHECK(r.output_tokens == 30);
  CHECK_FALSE(s.next(r));
  CHECK(s.skipped_rows() == 1);  // the zero-response row; the GPT-4 row is filtered, not skipped
  workload::BurstGptCsvSource strict(f, text::BadRowPolicy::kError, "");
  REQUIRE(strict.next(r));
  REQUIRE(strict.next(r));
  const std::string expected = f + ":4: Response tokens '0'";
  CHECK_THROWS_WITH_AS(strict.next(r), doctest::Contains(expected.c_str()), core::InputError);
}

TEST_CASE("window, rate scaling and offline tagging apply to any source") {
  workload::SyntheticSpec spec;
  spec.requests = 20000;
  spec.rate = 10;  // 2000 s of arrivals
  workload::TransformSpec t;
  t.window_start = 500 * core::kSecond;
  t.window_end = 1500 * core::kSecond;
  t.rate_scale = 2;
  t.offline_share = 0.3;
  t.offline_deadline = core::kHour;
  workload::TransformedSource s(std::make_unique<workload::SyntheticSource>(spec, 4), t, 4);
  workload::RequestSpec r;
  std::uint64_t n = 0, offline = 0;
  core::SimTime last = 0;
  while (s.next(r)) {
    CHECK(r.id == n);
    ++n;
    last = r.arrival;
    if (r.cls == workload::RequestClass::kOffline) {
      ++offline;
      CHECK(r.deadline == r.arrival + core::kHour);
    } else {
      CHECK(r.deadline == -1);
    }
  }
  CHECK(static_cast<double>(n) == doctest::Approx(10000).epsilon(0.03));  // 1000 s at 10/s
  CHECK(core::to_seconds(last) == doctest::Approx(500).epsilon(0.01));    // squeezed 2x
  CHECK(static_cast<double>(offline) / static_cast<double>(n) == doctest::Approx(0.3).epsilon(0.05));
}

TEST_CASE("diurnal modulation follows the cosine shape") {
  workload::SyntheticSpec spec;
  spec.requests = 200000;
  spec.rate = 2;
  spec.diurnal_amplitude = 0.8;
  spec.diurnal_period_s = 86400;
  spec.diurnal_peak_s = 14 * 3600;
  workload::SyntheticSource s(spec, 3);
  workload::RequestSpec r;
  std::vector<double> per_hour(24, 0);
  while (s.next(r) && r.arrival < 86400 * core::kSecond)
    per_hour[static_cast<std::size_t>(r.arrival / core::kHour)] += 1;
  // Expected count in hour h: 3600 x 2 x (1 + 0.8 cos(2 pi (h + 0.5 - 14) / 24)), within sampling noise.
  for (int h : {2, 8, 14, 20}) {
    const double expect = 7200 * (1 + 0.8 * std::cos(2 * M_PI * (h + 0.5 - 14) / 24));
    CHECK(per_hour[h] == doctest::Approx(expect).epsilon(0.08));
  }
  CHECK(per_hour[14] > 4 * per_hour[2]);
}
