#pragma once
#include <string>
#include <vector>

namespace greenfleet::cli {

// Each subcommand parses its own arguments (after the subcommand name) and returns the process exit code:
// 0 success, 1 internal error, 2 bad input or usage, 130 interrupted.
int run_command(const std::vector<std::string>& args);
int list_command(const std::vector<std::string>& args);
int summary_command(const std::vector<std::string>& args);
int calibrate_command(const std::vector<std::string>& args);
int validate_command(const std::vector<std::string>& args);
int compare_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);
int plan_command(const std::vector<std::string>& args);
int theory_command(const std::vector<std::string>& args);
int lifecycle_command(const std::vector<std::string>& args);

}  // namespace greenfleet::cli
