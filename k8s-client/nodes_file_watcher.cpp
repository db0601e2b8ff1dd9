// NodesFileWatcher (--nodes-file): polls a NodeList/List JSON file and emits the differences to the
// last good content, then kSynced. A broken file changes nothing (logged once per change of the
// file). Runs on a thread of its own; the sink is called there.
#include <sys/stat.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "k8s-client/object_cache.hpp"
#include "k8s-client/object_source.hpp"

namespace kroute::k8s {
namespace {

// What identifies a version of the file without reading it. A rewrite in place keeps the inode but
// changes mtime (ns) or size; an atomic rename changes the inode.
struct FileStamp {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

FileStamp stamp_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    constexpr std::int64_t kNs = 1'000'000'000;
    return FileStamp{true, st.st_dev, st.st_ino, st.st_size,
                     static_cast<std::int64_t>(st.st_mtim.tv_sec) * kNs + st.st_mtim.tv_nsec,
                     static_cast<std::int64_t>(st.st_ctim.tv_sec) * kNs + st.st_ctim.tv_nsec};
}

class NodesFileWatcher final : public NodeSource {
public:
    NodesFileWatcher(std::string path, std::chrono::milliseconds poll)
        : path_{std::move(path)}, poll_{std::max(poll, std::chrono::milliseconds{1})}, log_{log::get("k8s")} {}

    ~NodesFileWatcher() override { stop(); }

    void start(NodeEventSink sink) override {
        std::lock_guard lock{mu_};
        if (thread_.joinable()) return;
        sink_ = std::move(sink);
        stopping_ = false;
        thread_ = std::thread{[this] { run(); }};
    }

    void stop() override {
        {
            std::lock_guard lock{mu_};
            if (!thread_.joinable()) return;
            stopping_ = true;
        }
        cv_.notify_all();
        if (std::this_thread::get_id() == thread_.get_id()) return;
        thread_.join();
    }

private:
    void run() {
        std::unique_lock lock{mu_};
        while (!stopping_) {
            lock.unlock();
            check();
            lock.lock();
            cv_.wait_for(lock, poll_, [this] { return stopping_; });
        }
    }

    void check() {
        FileStamp stamp = stamp_of(path_);
        if (checked_once_ && stamp == last_stamp_) return;
        checked_once_ = true;
        last_stamp_ = stamp;
        if (!stamp.exists) {
            log_->warn("nodes file {}: cannot stat it; keeping the previous nodes", path_);
            return;
        }
        std::ifstream in{path_, std::ios::binary};
        std::ostringstream buf;
        if (in) buf << in.rdbuf();
        if (!in) {
            log_->warn("nodes file {}: cannot read it; keeping the previous nodes", path_);
            return;
        }
        std::string content = buf.str();
        if (have_content_ && content == last_content_) return;  // touched, not changed
        last_content_ = content;
        have_content_ = true;

        auto json = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
        if (json.is_discarded()) {
            log_->warn("nodes file {}: not valid JSON; keeping the previous nodes", path_);
            return;
        }
        auto list = parse_node_list(json);
        if (!list) {
            log_->warn("nodes file {}: {}; keeping the previous nodes", path_, list.error());
            return;
        }
        if (!list->errors.empty()) {
            // One bad node makes the whole file suspect: applying the rest would delete that node.
            log_->warn("nodes file {}: {} (and {} more error(s)); keeping the previous nodes", path_,
                       list->errors.front(), list->errors.size() - 1);
            return;
        }
        log_->info("nodes file {}: {} nodes", path_, list->items.size());
        for (auto& ev : cache_.replace(std::move(list->items)))
            if (sink_) sink_(std::move(ev));
    }

    std::string path_;
    std::chrono::milliseconds poll_;
    std::shared_ptr<spdlog::logger> log_;
    NodeCache cache_;
    FileStamp last_stamp_;
    bool checked_once_ = false;
    std::string last_content_;
    bool have_content_ = false;
    NodeEventSink sink_;

    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace

std::unique_ptr<NodeSource> make_nodes_file_watcher(std::string path, std::chrono::milliseconds poll) {
    return std::make_unique<NodesFileWatcher>(std::move(path), poll);
}

}  // namespace kroute::k8s
