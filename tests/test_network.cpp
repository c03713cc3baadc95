#include <doctest/doctest.h>

#include <string>

#include "test_support.hpp"

using namespace greenfleet;

TEST_CASE("network catalog: link kinds, switch kinds and how each server SKU is wired") {
  const auto& c = test::catalog();
  CHECK(c.link_kinds().at("pcie4-x16").bandwidth_gbps == 31.5);
  CHECK(c.link_kinds().at("nvlink4").bandwidth_gbps == 450);
  CHECK(c.link_kinds().at("eth-100g").bandwidth_gbps == 12.5);
  CHECK(c.switch_kinds().at("greensku-rack").ports == 10);
  for (const auto& [id, sku] : c.servers()) {
    CAPTURE(id);
    CHECK(c.link_kinds().count(sku.pcie_link) == 1);
    CHECK(c.link_kinds().count(sku.nic_link) == 1);
    // NVLink GPUs have a scale-up link of the GPU's own bandwidth; PCIe cards none.
    if (c.gpu(sku.gpu).link == "nvlink") {
      REQUIRE(c.link_kinds().count(sku.scale_up_link) == 1);
      CHECK(c.link_kinds().at(sku.scale_up_link).bandwidth_gbps == c.gpu(sku.gpu).link_bandwidth_gbps);
    } else {
      CHECK(sku.scale_up_link.empty());
    }
  }
  CHECK(c.server("dgx-a100x8-80gb").scale_up_link == "nvlink3");
}
