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

TEST_CASE("impossible calendar dates and UTC offsets are rejected, naming what is wrong") {
  std::int64_t t = 0;
  std::string why;
  CHECK_FALSE(text::parse_timestamp("2023-02-29 00:00:00", t, why));
  CHECK(why == "day 29 does not exist: February 2023 has 28 days");
  CHECK(text::parse_timestamp("2024-02-29 00:00:00", t, why));
  CHECK(text::parse_timestamp("2000-02-29 00:00:00", t, why));
  CHECK_FALSE(text::parse_timestamp("1900-02-29 00:00:00", t, why));
  CHECK_FALSE(text::parse_timestamp("2024-02-30 00:00:00", t, why));
  CHECK_FALSE(text::parse_timestamp("2023-04-31 00:00:00", t, why));
  CHECK(why.find("April 2023 has 30 days") != std::string::npos);
  CHECK_FALSE(text::parse_timestamp("2023-06-31T00:00:00Z", t, why));
  CHECK(text::parse_timestamp("2023-12-31 23:59:60", t, why));  // a leap second
  CHECK_FALSE(text::parse_timestamp("2023-01-01 00:00:00+99:99", t, why));
  CHECK(why.find("UTC offset +99:99 does not exist") != std::string::npos);
  CHECK_FALSE(text::parse_timestamp("2023-01-01 00:00:00-18:30", t, why));
  CHECK(text::parse_timestamp("2023-01-01 00:00:00+14:00", t, why));
  CHECK_FALSE(text::parse_timestamp("1677-12-31 23:59:59", t, why));
  // In a trace, the row is named.
  test::TempDir dir;
  const auto f = dir.write("d.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-30 00:00:00,1,1\n");
  AzureCsvSource s(f, text::BadRowPolicy::kError);
  workload::RequestSpec r;
  CHECK_THROWS_WITH_AS(s.next(r), doctest::Contains((f + ":2: TIMESTAMP '2023-02-30 00:00:00': day 30").c_str()),
                       core::InputError);
}

TEST_CASE("trace numbers out of range say so, with the bound; long fields are shortened") {
  test::TempDir dir;
  const auto f = dir.write("big.csv",
                           "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,1\n"
                           "2023-01-01 00:00:00,99999999999,1\n"
                           "2023-01-01 00:00:01,1,99999999999999999999999\n"
                           "2023-01-01 00:00:02,1," +
                               std::string(500, '7') +
                               "x\n"
                               "2200-01-01 00:00:02,1,1\n");
  AzureCsvSource s(f, text::BadRowPolicy::kError);
  workload::RequestSpec r;
  REQUIRE(s.next(r));
  CHECK_THROWS_WITH_AS(s.next(r),
                       doctest::Contains("ContextTokens '99999999999' is out of range (max 2147483647)"),
                       core::InputError);
  CHECK_THROWS_WITH_AS(s.next(r), doctest::Contains("is out of range (max 2147483647)"), core::InputError);
  try {
    s.next(r);
    FAIL("expected an error");
  } catch (const core::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("...' is not a positive integer") != std::string::npos);
    CHECK(msg.size() < 300);
  }
  // Rows may not lie more than 100 years apart (sums with them would pass the int64-nanosecond range).
  CHECK_THROWS_WITH_AS(s.next(r), doctest::Contains("more than 100 years after the first row"), core::InputError);

  const auto m = dir.write("m.jsonl",
                           "{\"timestamp\": 0, \"input_length\": 2e9, \"output_length\": 1}\n"
                           "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 1, "
                           "\"input_length\": 6}\n");
  workload::MooncakeJsonlSource ms(m, text::BadRowPolicy::kError);
  CHECK_THROWS_WITH_AS(ms.next(r), doctest::Contains("input_length 2000000000 is out of range (max 1000000000)"),
                       core::InputError);
  CHECK_THROWS_WITH_AS(ms.next(r), doctest::Contains("key \"input_length\" appears twice"), core::InputError);

  const auto b = dir.write(
      "b.csv",
      "Timestamp,Model,Request tokens,Response tokens\n1,m,3000000000,1\n2,m,1,0\n1e12,m,1,1\n-1,m,1,1\n");
  workload::BurstGptCsvSource bs(b, text::BadRowPolicy::kError, "");
  CHECK_THROWS_WITH_AS(bs.next(r), doctest::Contains("Request tokens '3000000000' is out of range"),
                       core::InputError);
  CHECK_THROWS_WITH_AS(bs.next(r), doctest::Contains("is not a positive integer (a failed request)"),
                       core::InputError);
  CHECK_THROWS_WITH_AS(bs.next(r), doctest::Contains("Timestamp '1e12' is out of range (max 3153600000 s"),
                       core::InputError);
  CHECK_THROWS_WITH_AS(bs.next(r), doctest::Contains("Timestamp '-1' is not a non-negative number"),
                       core::InputError);
}

TEST_CASE("a column read twice or a non-JSON number is an error, not a silent pick") {
  test::TempDir dir;
  const auto f = dir.write("dup.csv", "TIMESTAMP,ContextTokens,TIMESTAMP,GeneratedTokens\n");
  CHECK_THROWS_WITH_AS(AzureCsvSource(f, text::BadRowPolicy::kError),
                       doctest::Contains(":1: column 'TIMESTAMP' appears twice (columns 1 and 3)"),
                       core::InputError);
  const auto b = dir.write("dup_b.csv", "Timestamp,Model,Request tokens,Response tokens,Model\n");
  CHECK_THROWS_WITH_AS(workload::BurstGptCsvSource(b, text::BadRowPolicy::kError, ""),
                       doctest::Contains("column 'Model' appears twice"), core::InputError);
  const auto m = dir.write("m.jsonl",
                           "{\"timestamp\": 0x10, \"input_length\": 1, \"output_length\": 1}\n"
                           "{\"timestamp\": nan, \"input_length\": 1, \"output_length\": 1}\n"
                           "{\"timestamp\": 1, \"input_length\": inf, \"output_length\": 1}\n");
  workload::MooncakeJsonlSource ms(m, text::BadRowPolicy::kSkip);
  workload::RequestSpec r;
  CHECK_FALSE(ms.next(r));
  CHECK(ms.skipped_rows() == 3);
}

TEST_CASE("a UTF-8 byte-order mark in a trace header is reported as such") {
  test::TempDir dir;
  const auto f =
      dir.write("bom.csv", "\xEF\xBB\xBFTIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,1\n");
  CHECK_THROWS_WITH_AS(AzureCsvSource(f, text::BadRowPolicy::kError),
                       doctest::Contains(":1: the file starts with a UTF-8 byte-order mark (BOM)"),
                       core::InputError);
  const auto j =
      dir.write("bom.jsonl", "\xEF\xBB\xBF{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n");
  workload::MooncakeJsonlSource ms(j, text::BadRowPolicy::kSkip);
  workload::RequestSpec r;
  CHECK_THROWS_WITH_AS(ms.next(r), doctest::Contains("byte-order mark"), core::InputError);
}

TEST_CASE("offline deadlines and rate scaling cannot push times past the int64-nanosecond range") {
  test::TempDir dir;
  const auto f = dir.write("t.csv",
                           "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,1\n"
                           "2100-01-01 00:00:00,1,1\n");
  workload::TransformSpec spec;
  spec.rate_scale = 0.5;  // doubles a 77-year gap
  workload::TransformedSource t(std::make_unique<AzureCsvSource>(f, text::BadRowPolicy::kError), spec, 1);
  workload::RequestSpec r;
  REQUIRE(t.next(r));
  CHECK_THROWS_WITH_AS(t.next(r), doctest::Contains("more than 100 years into the run"), core::InputError);
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
