// Helpers shared by the k8s tests: fixtures, temporary directories, bounded waits, log capture.
#pragma once

#include <spdlog/sinks/ringbuffer_sink.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace kroute::k8s::test {

inline std::string data_path(const std::string& name) { return std::string{KROUTE_TEST_DATA_DIR} + "/k8s/" + name; }

inline std::string read_text(const std::string& path) {
    std::ifstream in{path, std::ios::binary};
    std::ostringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

inline nlohmann::json load_json(const std::string& name) { return nlohmann::json::parse(read_text(data_path(name))); }

// YAML -> JSON for the Kubernetes subset: maps, sequences, scalars as strings (the Node fields
// kroute reads are all strings), null for ~ and empty values.
inline nlohmann::json yaml_to_json(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: {
            nlohmann::json o = nlohmann::json::object();
            for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
            return o;
        }
        case YAML::NodeType::Sequence: {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& item : n) a.push_back(yaml_to_json(item));
            return a;
        }
        case YAML::NodeType::Scalar:
            return n.as<std::string>();
        default:
            return nullptr;
    }
}

class TempDir {
public:
    TempDir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("kroute-k8s-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
    void write(const std::string& name, const std::string& content) const {
        // Write then rename: the watcher never sees a half-written file.
        auto tmp = file(name + ".tmp");
        {
            std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
            out << content;
        }
        std::filesystem::rename(tmp, file(name));
    }

private:
    std::filesystem::path path_;
};

// Polls `pred` until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    return pred();
}

// Captures what the "k8s" logger writes while it lives.
class LogCapture {
public:
    LogCapture() : logger_{log::get("k8s")}, sink_{std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)} {
        // Attach before the code under test starts its thread: spdlog's sink list is not guarded.
        logger_->sinks().push_back(sink_);
    }
    ~LogCapture() {
        auto& sinks = logger_->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    [[nodiscard]] std::size_t count(const std::string& needle) const {
        std::size_t n = 0;
        for (const auto& line : sink_->last_formatted())
            if (line.find(needle) != std::string::npos) ++n;
        return n;
    }

private:
    std::shared_ptr<spdlog::logger> logger_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

}  // namespace kroute::k8s::test
