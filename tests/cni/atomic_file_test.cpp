#include "cni-writer/atomic_file.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace {

namespace fs = std::filesystem;
using kroute::cni::WriteOutcome;
using kroute::cni::write_file_atomically;
using Catch::Matchers::Contains;

// A fresh directory under $TMPDIR, removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string templ = std::string{tmp != nullptr && *tmp != '\0' ? tmp : "/tmp"} + "/kroute-cni-test-XXXXXX";
        std::vector<char> buf(templ.begin(), templ.end());
        buf.push_back('\0');
        REQUIRE(::mkdtemp(buf.data()) != nullptr);
        path_ = buf.data();
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
}

struct ChildResult {
    bool skipped = false;
    std::string text;
};

// Runs `body` in a forked child that has a private mount namespace, so that it can mount a tmpfs
// (tiny, or read-only) that nobody else sees and that vanishes with the child. The child reports
// through a pipe; Catch2 assertions stay in the parent.
ChildResult in_private_mount_namespace(const std::function<std::string()>& body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        std::string out;
        if (::unshare(CLONE_NEWNS) != 0) {
            out = (errno == EPERM ? "SKIP unshare(CLONE_NEWNS): " : "FAIL unshare(CLONE_NEWNS): ") +
                  std::string{std::strerror(errno)};
        } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            out = "FAIL making / private: " + std::string{std::strerror(errno)};
        } else {
            try {
                out = body();
            } catch (const std::exception& e) {
                out = std::string{"FAIL exception: "} + e.what();
            }
        }
        const char* p = out.data();
        std::size_t left = out.size();
        while (left > 0) {  // bounded: each pass writes >= 1 byte or stops
            ssize_t n = ::write(fds[1], p, left);
            if (n <= 0) break;
            p += n;
            left -= static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (;;) {  // ends at EOF, when the child exits
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (text.rfind("SKIP", 0) == 0) return {true, text};
    return {false, text};
}

std::string mount_tmpfs(const fs::path& dir, const char* options) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options) != 0) {
        return "FAIL mount tmpfs: " + std::string{std::strerror(errno)};
    }
    return {};
}

}  // namespace

TEST_CASE("writes a new file, creating its directory, with the given mode", "[cni][atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp.path() / "etc" / "cni" / "net.d" / "10-kroute.conflist";
    auto r = write_file_atomically(target.string(), "{\"a\":1}\n", 0640);
    REQUIRE(r.has_value());
    CHECK(*r == WriteOutcome::kWritten);
    CHECK(slurp(target) == "{\"a\":1}\n");
    struct stat st {};
    REQUIRE(::stat(target.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(names_in(target.parent_path()) == std::set<std::string>{"10-kroute.conflist"});  // no temp left
}

TEST_CASE("identical content is not rewritten; new content replaces the file", "[cni][atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp.path() / "10-kroute.conflist";
    REQUIRE(write_file_atomically(target.string(), "one\n").has_value());
    struct stat before {};
    REQUIRE(::stat(target.c_str(), &before) == 0);

    auto same = write_file_atomically(target.string(), "one\n");
    REQUIRE(same.has_value());
    CHECK(*same == WriteOutcome::kUnchanged);
    struct stat after {};
    REQUIRE(::stat(target.c_str(), &after) == 0);
    CHECK(after.st_ino == before.st_ino);  // a rename would have brought a new inode
    CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
    CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

    // Same length, different bytes: must not be mistaken for unchanged.
    auto changed = write_file_atomically(target.string(), "two\n");
    REQUIRE(changed.has_value());
    CHECK(*changed == WriteOutcome::kWritten);
    CHECK(slurp(target) == "two\n");
    REQUIRE(::stat(target.c_str(), &after) == 0);
    CHECK(after.st_ino != before.st_ino);

    auto longer = write_file_atomically(target.string(), "two\nthree\n");
    REQUIRE(longer.has_value());
    CHECK(*longer == WriteOutcome::kWritten);
    CHECK(slurp(target) == "two\nthree\n");
    auto empty = write_file_atomically(target.string(), "");
    REQUIRE(empty.has_value());
    CHECK(*empty == WriteOutcome::kWritten);
    CHECK(slurp(target).empty());
    CHECK(names_in(tmp.path()) == std::set<std::string>{"10-kroute.conflist"});
}

TEST_CASE("a path whose parent is a regular file is an error naming the path", "[cni][atomic_file]") {
    TempDir tmp;
    const fs::path blocker = tmp.path() / "net.d";
    REQUIRE(write_file_atomically(blocker.string(), "I am a file\n").has_value());
    const fs::path target = blocker / "10-kroute.conflist";
    auto r = write_file_atomically(target.string(), "x");
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error(), Contains(target.string()));
    CHECK(slurp(blocker) == "I am a file\n");
    CHECK(names_in(tmp.path()) == std::set<std::string>{"net.d"});
}

TEST_CASE("a target that is a directory, or an empty path, is an error", "[cni][atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp.path() / "10-kroute.conflist";
    fs::create_directory(target);
    auto r = write_file_atomically(target.string(), "x");
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error(), Contains("is a directory"));
    CHECK(fs::is_directory(target));
    auto e = write_file_atomically("", "x");
    REQUIRE_FALSE(e.has_value());
    CHECK_THAT(e.error(), Contains("empty path"));
}

TEST_CASE("a read-only filesystem: clear error, old file intact", "[cni][atomic_file][root]") {
    TempDir tmp;
    const fs::path mnt = tmp.path();
    const fs::path target = mnt / "10-kroute.conflist";
    auto result = in_private_mount_namespace([&]() -> std::string {
        if (auto err = mount_tmpfs(mnt, "size=64k,mode=0755"); !err.empty()) return err;
        if (!write_file_atomically(target.string(), "old\n")) return "FAIL first write";
        if (::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
            return "FAIL remount read-only: " + std::string{std::strerror(errno)};
        }
        auto unchanged = write_file_atomically(target.string(), "old\n");
        if (!unchanged || *unchanged != WriteOutcome::kUnchanged) return "FAIL identical content was not skipped";
        auto r = write_file_atomically(target.string(), "new\n");
        if (r) return "FAIL write on a read-only filesystem succeeded";
        auto sub = write_file_atomically((mnt / "sub" / "f").string(), "new\n");
        if (sub) return "FAIL mkdir -p on a read-only filesystem succeeded";
        if (slurp(target) != "old\n") return "FAIL old content changed: " + slurp(target);
        if (names_in(mnt) != std::set<std::string>{"10-kroute.conflist"}) return "FAIL stray files left";
        return "OK\n" + r.error() + "\n" + sub.error();
    });
    if (result.skipped) {
        FAIL(result.text);
        return;
    }
    REQUIRE_THAT(result.text, Catch::Matchers::StartsWith("OK\n"));
    CHECK_THAT(result.text, Contains(target.string() + ": Read-only file system"));
    CHECK_THAT(result.text, Contains("cannot create directory " + (mnt / "sub").string()));
}

TEST_CASE("a full filesystem: clear error, old file intact, temp file removed", "[cni][atomic_file][root]") {
    TempDir tmp;
    const fs::path mnt = tmp.path();
    const fs::path target = mnt / "10-kroute.conflist";
    auto result = in_private_mount_namespace([&]() -> std::string {
        if (auto err = mount_tmpfs(mnt, "size=16k,mode=0755"); !err.empty()) return err;
        if (!write_file_atomically(target.string(), "old\n")) return "FAIL first write";

        // Larger than the whole filesystem.
        auto big = write_file_atomically(target.string(), std::string(64 * 1024, 'x'));
        if (big) return "FAIL 64 KiB fit in a 16 KiB tmpfs";

        // Fill what is left, then even a small new file cannot be written.
        int fd = ::open((mnt / "filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) return "FAIL open filler";
        const std::string chunk(4096, 'f');
        bool full = false;
        for (int i = 0; i < 64 && !full; ++i) {  // 16 KiB / 4 KiB: full long before 64 chunks
            full = ::write(fd, chunk.data(), chunk.size()) < 0 && errno == ENOSPC;
        }
        ::close(fd);
        if (!full) return "FAIL could not fill the tmpfs";
        auto small = write_file_atomically(target.string(), std::string(4096, 'n'));
        if (small) return "FAIL write on a full filesystem succeeded";

        if (slurp(target) != "old\n") return "FAIL old content changed";
        if (names_in(mnt) != std::set<std::string>{"10-kroute.conflist", "filler"}) return "FAIL temp file left";
        return "OK\n" + big.error() + "\n" + small.error();
    });
    if (result.skipped) {
        FAIL(result.text);
        return;
    }
    REQUIRE_THAT(result.text, Catch::Matchers::StartsWith("OK\n"));
    CHECK_THAT(result.text, Contains("cannot write " + target.string() + " (old file left intact)"));
    CHECK_THAT(result.text, Contains("No space left on device"));
}
