#include "daemon/platform/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace kroute::daemon {

Expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv, const std::string& input) {
    if (argv.empty()) return unexpected(std::string{"no command"});
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return unexpected(std::string{"pipe: "} + std::strerror(errno));
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(in[0]);
        ::close(in[1]);
        return unexpected(std::string{"pipe: "} + std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        return unexpected(argv[0] + ": " + std::strerror(rc));
    }
    // Feed stdin and drain stdout together: a large input must not deadlock on a full pipe.
    CommandResult result;
    std::size_t written = 0;
    int in_fd = in[1];
    if (input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    }
    for (;;) {
        pollfd fds[2] = {{out[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
        const int n = ::poll(fds, in_fd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            const ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (w < 0 || written == input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            char buf[4096];
            const ssize_t r = ::read(out[0], buf, sizeof buf);
            if (r > 0) {
                if (result.output.size() < (1U << 20U)) result.output.append(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || errno != EINTR) {
                break;
            }
        }
    }
    if (in_fd >= 0) ::close(in_fd);
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace kroute::daemon
