// Runs a program (found on PATH) with some text on its stdin and collects what it prints. For the
// few host tools kroute drives (iptables-restore and friends). Blocking; any thread.
#pragma once

#include <string>
#include <vector>

#include "common/expected.hpp"

namespace kroute::daemon {

struct CommandResult {
    int exit_code = -1;  // -1: killed by a signal
    std::string output;  // stdout and stderr together
};

// An error only when the program cannot be started (not installed...); a non-zero exit is a result.
[[nodiscard]] Expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                               const std::string& input = {});

}  // namespace kroute::daemon
