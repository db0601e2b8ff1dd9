// Writes a file so that a reader (kubelet) sees the old content or the new, never a mix: a temp
// file in the same directory, fsync, rename, fsync of the directory. Skips the write when the file
// already holds exactly `content`. A failure (full disk, read-only directory) leaves the old file
// intact and says why.
#pragma once

#include <string>

#include "common/expected.hpp"

namespace kroute::cni {

enum class WriteOutcome { kUnchanged, kWritten };

[[nodiscard]] Expected<WriteOutcome, std::string> write_file_atomically(const std::string& path,
                                                                        const std::string& content,
                                                                        unsigned mode = 0644);

}  // namespace kroute::cni
