#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <mutex>

namespace kroute::log {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;
std::atomic<int> g_atomic_level{spdlog::level::info};

spdlog::sink_ptr shared_sink() {
    static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    return sink;
}

}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& component) {
    std::lock_guard lock(g_mutex);
    if (auto existing = spdlog::get(component)) return existing;
    auto logger = std::make_shared<spdlog::logger>(component, shared_sink());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %L %n: %v");
    logger->set_level(g_level);
    logger->flush_on(spdlog::level::trace);
    spdlog::register_logger(logger);
    return logger;
}

bool enabled(spdlog::level::level_enum level) noexcept {
    return level >= g_atomic_level.load(std::memory_order_relaxed);
}

void set_verbosity(int v) {
    std::lock_guard lock(g_mutex);
    g_level = v <= 0 ? spdlog::level::info : v <= 2 ? spdlog::level::debug : spdlog::level::trace;
    g_atomic_level.store(g_level, std::memory_order_relaxed);
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

}  // namespace kroute::log
