#include "sim/catalog/coefficient_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "sim/config/config_node.hpp"

namespace greenfleet::catalog {

std::string coefficients_yaml(const spec::CalibrationCoefficients& c) {
  std::string source = c.source;
  std::replace(source.begin(), source.end(), '"', '\'');  // keep the YAML string well formed
  std::string s = "# Calibrated step-time model written by `greenfleet calibrate`: regenerate, do not edit.\n";
  s += fmt::format("gpu: {}\nmodel: {}\ntensor_parallel: {}\n", c.gpu, c.model, c.tensor_parallel);
  s += fmt::format("origin: {}\nsource: \"{}\"\n", spec::to_string(c.origin), source);
  s += fmt::format("prefill_floor_s: {:.10g}\nprefill_fixed_s: {:.10g}\n", c.prefill_floor, c.prefill_fixed);
  s += fmt::format("per_prefill_token_s: {:.10g}\nper_attn_ctx_s: {:.10g}\n", c.per_prefill_token, c.per_attn_ctx);
  if (c.prefill_knee_tokens > 0)
    s += fmt::format("prefill_knee_tokens: {:.10g}\nper_prefill_token_above_knee_s: {:.10g}\n",
                     c.prefill_knee_tokens, c.per_prefill_token_above_knee);
  s += fmt::format("decode_floor_s: {:.10g}\ndecode_fixed_s: {:.10g}\n", c.decode_floor, c.decode_fixed);
  s += fmt::format("per_decode_seq_s: {:.10g}\nper_decode_ctx_s: {:.10g}\n", c.per_decode_seq, c.per_decode_ctx);
  if (c.step_overhead > 0) s += fmt::format("step_overhead_s: {:.10g}\n", c.step_overhead);
  s += "fit:                          # absolute percentage errors on held-out points (docs/MODELS.md)\n";
  s += fmt::format("  training_points: {}\n  held_out_points: {}\n", c.training_points, c.held_out_points);
  s += fmt::format("  held_out_median_ape: {:.3f}\n", c.held_out_median_ape);
  s += fmt::format("  held_out_p90_ape: {:.3f}\n", c.held_out_p90_ape);
  s += fmt::format("  e2e_points: {}\n", c.e2e_points);
  s += fmt::format("  e2e_median_ape: {:.3f}\n  e2e_p90_ape: {:.3f}\n", c.e2e_median_ape, c.e2e_p90_ape);
  return s;
}

spec::CalibrationCoefficients load_coefficients(const std::string& file) {
  config::ConfigNode n = config::ConfigNode::open_file(file);
  spec::CalibrationCoefficients c;
  c.gpu = n.get_string("gpu");
  c.model = n.get_string("model");
  c.tensor_parallel = static_cast<int>(n.get_int("tensor_parallel", std::nullopt, 1, 64));
  c.origin = n.get_choice("origin", {"measured", "derived"}) == "measured" ? spec::CalibrationOrigin::kMeasured
                                                                           : spec::CalibrationOrigin::kDerived;
  c.source = n.get_string("source");
  c.prefill_floor = n.get_double("prefill_floor_s", std::nullopt, 0, 1e3);
  c.prefill_fixed = n.get_double("prefill_fixed_s", std::nullopt, 0, 1e3);
  c.per_prefill_token = n.get_double("per_prefill_token_s", std::nullopt, 0, 1);
  c.per_attn_ctx = n.get_double("per_attn_ctx_s", std::nullopt, 0, 1);
  c.prefill_knee_tokens = n.get_double("prefill_knee_tokens", 0.0, 0, 1e9);
  c.per_prefill_token_above_knee = n.get_double("per_prefill_token_above_knee_s", 0.0, 0, 1);
  // A slope without its knee would charge every prompt token twice over; the two keys come together.
  if ((c.per_prefill_token_above_knee > 0) != (c.prefill_knee_tokens > 0))
    n.fail(
        c.prefill_knee_tokens > 0 ? "prefill_knee_tokens" : "per_prefill_token_above_knee_s",
        "prefill_knee_tokens and per_prefill_token_above_knee_s are set together (both positive) or not at all");
  c.decode_floor = n.get_double("decode_floor_s", std::nullopt, 0, 1e3);
  c.decode_fixed = n.get_double("decode_fixed_s", std::nullopt, 0, 1e3);
  c.per_decode_seq = n.get_double("per_decode_seq_s", std::nullopt, 0, 1);
  c.per_decode_ctx = n.get_double("per_decode_ctx_s", std::nullopt, 0, 1);
  c.step_overhead = n.get_double("step_overhead_s", 0.0, 0, 1);
  // A step that costs no time at its smallest (one sequence, no context; a one-token prompt) would let a run
  // finish in nanoseconds: some term must price it.
  if (c.decode_floor + c.decode_fixed + c.per_decode_seq + c.step_overhead <= 0)
    n.fail("decode_fixed_s",
           "a decode step of one sequence costs no time: decode_floor_s, decode_fixed_s, "
           "per_decode_seq_s and step_overhead_s are all 0");
  if (c.prefill_floor + c.prefill_fixed + c.per_prefill_token + c.step_overhead <= 0)
    n.fail("prefill_fixed_s",
           "a prefill step of one token costs no time: prefill_floor_s, prefill_fixed_s, "
           "per_prefill_token_s and step_overhead_s are all 0");
  config::ConfigNode fit = n.child("fit");
  c.training_points = static_cast<int>(fit.get_int("training_points", std::nullopt, 0));
  c.held_out_points = static_cast<int>(fit.get_int("held_out_points", std::nullopt, 0));
  c.held_out_median_ape = fit.get_double("held_out_median_ape", std::nullopt, 0);
  c.held_out_p90_ape = fit.get_double("held_out_p90_ape", std::nullopt, 0);
  c.e2e_points = static_cast<int>(fit.get_int("e2e_points", std::nullopt, 0));
  c.e2e_median_ape = fit.get_double("e2e_median_ape", std::nullopt, 0);
  c.e2e_p90_ape = fit.get_double("e2e_p90_ape", std::nullopt, 0);
  fit.finish();
  n.finish();
  return c;
}

std::string coefficients_path(const std::string& root, const std::string& gpu, const std::string& model, int tp) {
  return (std::filesystem::path(root) / "models" / "calibration" / gpu / fmt::format("{}-tp{}.yaml", model, tp))
      .string();
}

std::string power_curve_yaml(const spec::GpuPowerCurve& c) {
  return fmt::format(
      "# GPU decode power vs running batch, written by `greenfleet calibrate`: regenerate, do not edit.\n"
      "# P(B) = decode_w_saturated - (decode_w_saturated - decode_w_small) x exp(-B / batch_scale), W per GPU\n"
      "gpu: {}\nmethod: {}\nsource: \"{}\"\ndecode_w_small: {:.6g}\ndecode_w_saturated: {:.6g}\nbatch_scale: "
      "{:.6g}\n"
      "{}"
      "fit:                          # {}\n"
      "  training_points: {}\n  held_out_points: {}\n  held_out_median_ape: {:.3f}\n  held_out_p90_ape: {:.3f}\n",
      c.gpu, c.method, c.source, c.decode_w_small, c.decode_w_saturated, c.batch_scale,
      c.method == "line" ? fmt::format("line:                         # W = intercept_w + slope_w x utilisation\n"
                                       "  intercept_w: {:.6g}\n  slope_w: {:.6g}\n  utilisation: {:.6g}\n"
                                       "{}",
                                       c.line_intercept_w, c.line_slope_w, c.line_utilisation,
                                       c.host_s_per_layer > 0
                                           ? fmt::format("engine_2023:                  # host-bound step floor "
                                                         "(preset fastchat-hf-2023)\n"
                                                         "  host_s_per_layer: {:.6g}\n  training_rows: {}\n",
                                                         c.host_s_per_layer, c.host_training_rows)
                                           : "")
                         : "",
      c.method == "levels"
          ? "levels from mean powers: points = values averaged, nothing held out, no error measured"
          : "absolute percentage errors of power on held-out points",
      c.training_points, c.held_out_points, c.held_out_median_ape, c.held_out_p90_ape);
}

spec::GpuPowerCurve load_power_curve(const std::string& file) {
  config::ConfigNode n = config::ConfigNode::open_file(file);
  spec::GpuPowerCurve c;
  c.gpu = n.get_string("gpu");
  c.method = n.get_choice("method", {"fit", "line", "levels"});
  c.source = n.get_string("source");
  c.decode_w_small = n.get_double("decode_w_small", std::nullopt, 0, 1e4);
  c.decode_w_saturated = n.get_double("decode_w_saturated", std::nullopt, 0, 1e4);
  c.batch_scale = n.get_double("batch_scale", std::nullopt, 1e-3, 1e6);
  if (c.method == "line") {
    config::ConfigNode line = n.child("line");
    c.line_intercept_w = line.get_double("intercept_w", std::nullopt, -1e4, 1e4);
    c.line_slope_w = line.get_double("slope_w", std::nullopt, -1e4, 1e4);
    c.line_utilisation = line.get_double("utilisation", std::nullopt, 0, 1);
    line.finish();
    if (auto e = n.maybe_child("engine_2023")) {
      c.host_s_per_layer = e->get_double("host_s_per_layer", std::nullopt, 1e-6, 1);
      c.host_training_rows = static_cast<int>(e->get_int("training_rows", std::nullopt, 1));
      e->finish();
    }
  }
  config::ConfigNode fit = n.child("fit");
  c.training_points = static_cast<int>(fit.get_int("training_points", std::nullopt, 0));
  c.held_out_points = static_cast<int>(fit.get_int("held_out_points", std::nullopt, 0));
  c.held_out_median_ape = fit.get_double("held_out_median_ape", std::nullopt, 0);
  c.held_out_p90_ape = fit.get_double("held_out_p90_ape", std::nullopt, 0);
  fit.finish();
  n.finish();
  return c;
}

std::string cpu_coefficients_yaml(const spec::CpuCoefficients& c) {
  auto quoted = [](std::string s) {
    std::replace(s.begin(), s.end(), '"', '\'');  // keep the YAML string well formed
    return s;
  };
  // One literal per line of the file, split where a line is wider than the source.
  std::string s =
      "# CPU inference model written by `greenfleet calibrate` from models/calibration/cpu/measurements/: "
      "regenerate, do not edit.\n"
      "# step = max(floor_s + g/amx x stream_per_seq_1t_s x seqs,\n"
      "#            g/amx x (compute_per_seq_1t_s x seqs + per_prefill_token_1t_s x prefill tokens)),\n"
      "# g = serial_fraction + (1 - serial_fraction) / threads; "
      "host W = power_base_w + power_per_thread_w x threads\n"
      "# (docs/CPU_MODEL.md)\n";
  s += fmt::format("cpu: {}\nmodel: {}\nengine: \"{}\"\n", c.cpu, c.model, quoted(c.engine));
  s += fmt::format("quantisation: {}\nsource: \"{}\"\n", c.quantisation, quoted(c.source));
  s += fmt::format("floor_s: {:.10g}\nstream_per_seq_1t_s: {:.10g}\n", c.floor_s, c.stream_per_seq_1t_s);
  s += fmt::format("compute_per_seq_1t_s: {:.10g}\n", c.compute_per_seq_1t_s);
  s += fmt::format("per_prefill_token_1t_s: {:.10g}\n", c.per_prefill_token_1t_s);
  s += fmt::format("serial_fraction: {:.10g}\n", c.serial_fraction);
  s += fmt::format("power_base_w: {:.10g}\npower_per_thread_w: {:.10g}\n", c.power_base_w, c.power_per_thread_w);
  s += "fit:                          "
       "# throughput: absolute percentage errors on held-out points (every third row);\n"
       "                              # power: leave-one-out over the range ends (docs/CPU_MODEL.md)\n";
  s += fmt::format("  training_points: {}\n  held_out_points: {}\n", c.training_points, c.held_out_points);
  s += fmt::format("  held_out_in_range: {}\n", c.held_out_in_range);
  s += fmt::format("  held_out_median_ape: {:.3f}\n", c.held_out_median_ape);
  s += fmt::format("  held_out_p90_ape: {:.3f}\n", c.held_out_p90_ape);
  s += fmt::format("  power_points: {}\n", c.power_points);
  s += fmt::format("  power_median_ape: {:.3f}\n  power_p90_ape: {:.3f}\n", c.power_median_ape, c.power_p90_ape);
  return s;
}

spec::CpuCoefficients load_cpu_coefficients(const std::string& file) {
  config::ConfigNode n = config::ConfigNode::open_file(file);
  spec::CpuCoefficients c;
  c.cpu = n.get_string("cpu");
  c.model = n.get_string("model");
  c.engine = n.get_string("engine");
  c.quantisation = n.get_string("quantisation");
  c.source = n.get_string("source");
  c.floor_s = n.get_double("floor_s", std::nullopt, 0, 1e3);
  c.stream_per_seq_1t_s = n.get_double("stream_per_seq_1t_s", std::nullopt, 0, 1e3);
  c.compute_per_seq_1t_s = n.get_double("compute_per_seq_1t_s", std::nullopt, 0, 1e3);
  c.per_prefill_token_1t_s = n.get_double("per_prefill_token_1t_s", std::nullopt, 0, 1e3);
  c.serial_fraction = n.get_double("serial_fraction", std::nullopt, 0, 1);
  c.power_base_w = n.get_double("power_base_w", std::nullopt, 0, 1e5);
  c.power_per_thread_w = n.get_double("power_per_thread_w", std::nullopt, 0, 1e3);
  config::ConfigNode fit = n.child("fit");
  c.training_points = static_cast<int>(fit.get_int("training_points", std::nullopt, 0));
  c.held_out_points = static_cast<int>(fit.get_int("held_out_points", std::nullopt, 0));
  c.held_out_in_range = static_cast<int>(fit.get_int("held_out_in_range", std::nullopt, 0));
  c.held_out_median_ape = fit.get_double("held_out_median_ape", std::nullopt, 0);
  c.held_out_p90_ape = fit.get_double("held_out_p90_ape", std::nullopt, 0);
  c.power_points = static_cast<int>(fit.get_int("power_points", std::nullopt, 0));
  c.power_median_ape = fit.get_double("power_median_ape", std::nullopt, 0);
  c.power_p90_ape = fit.get_double("power_p90_ape", std::nullopt, 0);
  fit.finish();
  n.finish();
  return c;
}

std::string cpu_coefficients_path(const std::string& root, const std::string& cpu, const std::string& model) {
  return (std::filesystem::path(root) / "models" / "calibration" / "cpu" / cpu / (model + ".yaml")).string();
}

}  // namespace greenfleet::catalog
