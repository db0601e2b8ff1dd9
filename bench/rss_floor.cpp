// rss_floor: a process that loads what kroute is built on and then waits, doing nothing; its VmRSS
// is the floor under any process that links the same libraries (bench/rss_floor.sh). Built three
// times: KROUTE_FLOOR_LEVEL 0 (C library only), 1 (+ the C++ runtime, Asio and spdlog, an idle
// io_context), 2 (+ cpp-httplib, which Debian ships only as a shared library linked to OpenSSL).
#include <unistd.h>

#if KROUTE_FLOOR_LEVEL >= 1
#include <spdlog/spdlog.h>

#include "common/asio.hpp"
#endif
#if KROUTE_FLOOR_LEVEL >= 2
#include <httplib.h>
#endif

int main([[maybe_unused]] int argc, char**) {
#if KROUTE_FLOOR_LEVEL >= 2
    // Never taken: it makes the program depend on the library, as kroute does.
    if (argc > 1000) httplib::Client("localhost", 1).Get("/");
#endif
#if KROUTE_FLOOR_LEVEL >= 1
    spdlog::info("rss_floor: idle");
    boost::asio::io_context ioc;
    auto guard = boost::asio::make_work_guard(ioc);
    ioc.run();
#else
    (void)argc;
    ::pause();
#endif
}
