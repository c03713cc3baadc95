#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sim/core/error.hpp"
#include "test_support.hpp"

using namespace greenfleet;

TEST_CASE("the catalog has the GPUs, CPUs, servers and models the design card names") {
  const auto& c = test::catalog();
  for (const char* g : {"h100-sxm", "h100-pcie", "h200-sxm", "a100-sxm-80gb", "a100-sxm-40gb", "l40s", "a10", "l4",
                        "v100-sxm-32gb", "t4"})
    CHECK_MESSAGE(c.gpus().count(g) == 1, g);
  for (const char* p : {"xeon-8480p", "epyc-9654", "xeon-8168"}) CHECK_MESSAGE(c.cpus().count(p) == 1, p);
  for (const char* m : {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b", "mistral-7b",
                        "opt-13b", "opt-66b", "llama-68m", "tinyllama-1.1b", "llama-3.2-1b"})
    CHECK_MESSAGE(c.models().count(m) == 1, m);
  CHECK(c.servers().count("hgx-h100x8") == 1);
}

TEST_CASE("catalog numbers match the reference sheets") {
  const auto& c = test::catalog();
  const auto& h100 = c.gpu("h100-sxm");
  CHECK(h100.fp16_tflops == doctest::Approx(989.4));
  CHECK(h100.memory_bandwidth_gbps == doctest::Approx(3350));
  CHECK(h100.tdp_w == 700);
  CHECK(h100.power.idle_w == 75);  // SplitwiseSim
  CHECK(h100.power.prefill_w == 700);
  CHECK(h100.power.decode_w == 380);
  const auto& hgx = c.server("hgx-h100x8");  // EcoServe reference host
  CHECK(hgx.dram_gb == 2000);
  CHECK(hgx.ssd_gb == 22720);
  CHECK(c.memory_kinds().at("hbm3").embodied_kg_per_gb == doctest::Approx(0.24));
  CHECK(c.storage_kinds().at("ssd").embodied_kg_per_gb == doctest::Approx(0.10999));
}

TEST_CASE("model shapes give the published parameter counts and KV sizes") {
  const auto& c = test::catalog();
  CHECK(c.model("llama-2-7b").parameters() / 1e9 == doctest::Approx(6.74).epsilon(0.01));
  CHECK(c.model("llama-2-70b").parameters() / 1e9 == doctest::Approx(68.98).epsilon(0.01));
  // GreenLLM (Shi et al., arXiv 2412.20322), KV bytes per token: Llama-2-7B fp16 0.5 MiB; Llama-3-8B 128 KiB.
  CHECK(c.model("llama-2-7b").kv_bytes_per_token() == 512 * 1024);
  CHECK(c.model("llama-3.1-8b").kv_bytes_per_token() == 128 * 1024);
}

TEST_CASE("a broken catalog entry names the file, line and key") {
  test::TempDir dir;
  const auto src = std::filesystem::path(GREENFLEET_SOURCE_DIR);
  std::filesystem::copy(src / "hardware_catalog", dir.path("hardware_catalog"));
  std::filesystem::copy(src / "models", dir.path("models"), std::filesystem::copy_options::recursive);
  // Point a server at a GPU that does not exist.
  const std::string servers = dir.path("hardware_catalog/servers.yaml");
  std::string text;
  {
    std::ifstream in(servers);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto pos = text.find("gpu: h100-sxm");
  REQUIRE(pos != std::string::npos);
  text.replace(pos, 13, "gpu: h100-sxn");
  std::ofstream(servers) << text;
  const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
  try {
    catalog::Catalog::load(dir.path());
    FAIL("expected an error");
  } catch (const core::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(servers + ":" + std::to_string(line) + ":") == 0);
    CHECK(msg.find(".gpu: unknown GPU 'h100-sxn' (did you mean 'h100-sxm'?)") != std::string::npos);
  }
}

TEST_CASE("a catalog entry with an unknown field is rejected") {
  test::TempDir dir;
  const auto src = std::filesystem::path(GREENFLEET_SOURCE_DIR);
  std::filesystem::copy(src / "hardware_catalog", dir.path("hardware_catalog"));
  std::filesystem::copy(src / "models", dir.path("models"), std::filesystem::copy_options::recursive);
  std::ofstream(dir.path("models/llm/llama-2-7b.yaml"), std::ios::app) << "hiden_size: 4096\n";
  CHECK_THROWS_WITH_AS(catalog::Catalog::load(dir.path()),
                       doctest::Contains("hiden_size: unknown key (did you mean 'hidden_size'?)"),
                       core::InputError);
}
