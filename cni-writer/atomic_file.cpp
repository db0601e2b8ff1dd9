// The atomic write. kubelet polls /etc/cni/net.d and may read the conflist at any moment: it must
// see the old file or the new one, never a half-written one. rename(2) within one directory is
// atomic (POSIX), so the new content goes to a temp file next to the target first; fsync before
// the rename so that a crash cannot leave an empty file under the final name (the ext4
// zero-length-after-rename problem), fsync of the directory after it so that the rename itself is
// durable.
#include "cni-writer/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

namespace kroute::cni {
namespace {

using Error = std::string;

std::string errno_text(int err) {
    return std::system_category().message(err);
}

Error fail(const std::string& what, const std::string& path, int err) {
    return what + " " + path + ": " + errno_text(err);
}

// Closes on every path out; close errors after a successful fsync carry no news about the data.
class Fd {
public:
    explicit Fd(int fd) noexcept : fd_{fd} {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    int release() noexcept {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

// Unlinks the temp file unless the rename has consumed it.
class TempFile {
public:
    explicit TempFile(std::string path) : path_{std::move(path)} {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    void keep() noexcept { path_.clear(); }

private:
    std::string path_;
};

enum class Compare { kSame, kDifferent };

// Reads the current file to compare: a file that cannot be read is simply rewritten.
Compare compare_existing(const std::string& path, const std::string& content) {
    Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.get() < 0) return Compare::kDifferent;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::size_t>(st.st_size) != content.size()) {
        return Compare::kDifferent;
    }
    std::string current(content.size(), '\0');
    std::size_t done = 0;
    while (done < current.size()) {  // bounded: each pass reads >= 1 byte or leaves
        ssize_t n = ::read(fd.get(), current.data() + done, current.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Compare::kDifferent;
        done += static_cast<std::size_t>(n);
    }
    char extra = 0;
    ssize_t n = 0;
    do {
        n = ::read(fd.get(), &extra, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 0) return Compare::kDifferent;  // the file grew while we read it
    return current == content ? Compare::kSame : Compare::kDifferent;
}

Expected<void, Error> write_all(int fd, const std::string& content, const std::string& temp_path) {
    std::size_t done = 0;
    while (done < content.size()) {  // bounded: each pass writes >= 1 byte or returns
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return unexpected(fail("cannot write", temp_path, errno));
        if (n == 0) return unexpected(fail("cannot write", temp_path, EIO));
        done += static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace

Expected<WriteOutcome, std::string> write_file_atomically(const std::string& path, const std::string& content,
                                                          unsigned mode) {
    try {
        if (path.empty()) return unexpected(Error{"cannot write a file with an empty path"});
        const std::filesystem::path target{path};
        if (!target.has_filename()) return unexpected("cannot write " + path + ": the path names a directory");
        const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";

        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            return unexpected("cannot write " + path + ": it is a directory");
        }
        if (compare_existing(path, content) == Compare::kSame) return WriteOutcome::kUnchanged;

        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) return unexpected("cannot create directory " + dir.string() + " for " + path + ": " + ec.message());

        // mkostemp opens with O_CREAT|O_EXCL under a fresh name: never another writer's temp file.
        // The leading dot keeps the temp file out of kubelet's *.conf/*.conflist scan.
        std::string temp_name = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
        std::vector<char> buf(temp_name.begin(), temp_name.end());
        buf.push_back('\0');
        Fd fd{::mkostemp(buf.data(), O_CLOEXEC)};
        if (fd.get() < 0) return unexpected(fail("cannot create a temp file in", dir.string() + " for " + path, errno));
        TempFile temp{std::string{buf.data()}};

        // fchmod is not subject to the umask: the file gets exactly `mode` (mkostemp made it 0600).
        if (::fchmod(fd.get(), static_cast<mode_t>(mode & 07777)) != 0) {
            return unexpected(fail("cannot set the mode of", temp.path(), errno));
        }
        if (auto ok = write_all(fd.get(), content, temp.path()); !ok) {
            return unexpected("cannot write " + path + " (old file left intact): " + ok.error());
        }
        // Delayed allocation: ENOSPC/EDQUOT may surface only here or at close.
        if (::fsync(fd.get()) != 0) {
            return unexpected("cannot write " + path + " (old file left intact): " + fail("fsync", temp.path(), errno));
        }
        if (::close(fd.release()) != 0) {
            return unexpected("cannot write " + path + " (old file left intact): " + fail("close", temp.path(), errno));
        }
        if (::rename(temp.path().c_str(), path.c_str()) != 0) {
            return unexpected("cannot write " + path + " (old file left intact): " +
                              fail("rename of", temp.path(), errno));
        }
        temp.keep();

        Fd dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
        if (dir_fd.get() < 0) return unexpected(fail("wrote the file but cannot open its directory", dir.string(), errno));
        // EINVAL: the filesystem does not support syncing a directory; nothing more can be done.
        if (::fsync(dir_fd.get()) != 0 && errno != EINVAL) {
            return unexpected(fail("wrote the file but cannot fsync its directory", dir.string(), errno));
        }
        return WriteOutcome::kWritten;
    } catch (const std::exception& e) {  // bad_alloc or filesystem_error: never across the boundary
        return unexpected("cannot write " + path + ": " + e.what());
    }
}

}  // namespace kroute::cni
