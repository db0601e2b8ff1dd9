#include "k8s-client/token_source.hpp"

#include <catch2/catch.hpp>

#include "k8s_test_support.hpp"

using kroute::k8s::TokenSource;
using namespace std::chrono_literals;
namespace t = kroute::k8s::test;

TEST_CASE("token source: a static token", "[k8s][token]") {
    TokenSource ts{"static", ""};
    CHECK(ts.token(TokenSource::Clock::time_point{}) == "static");
    ts.invalidate();
    CHECK(ts.token(TokenSource::Clock::time_point{}) == "static");
}

TEST_CASE("token source: a file re-read at most once per period and after invalidate()", "[k8s][token]") {
    t::TempDir dir;
    dir.write("token", "one\n");
    TokenSource ts{"", dir.file("token"), 60s};
    TokenSource::Clock::time_point now{};
    CHECK(ts.token(now) == "one");  // trimmed
    dir.write("token", "two");
    CHECK(ts.token(now + 59s) == "one");  // cached
    CHECK(ts.token(now + 61s) == "two");  // period over
    dir.write("token", "three");
    ts.invalidate();                       // a 401
    CHECK(ts.token(now + 62s) == "three");
}

TEST_CASE("token source: an unreadable or empty file keeps the previous token", "[k8s][token]") {
    t::TempDir dir;
    t::LogCapture logs;
    dir.write("token", "good");
    TokenSource ts{"initial", dir.file("token"), 1s};
    TokenSource::Clock::time_point now{};
    CHECK(ts.token(now) == "good");
    dir.write("token", "  \n");
    CHECK(ts.token(now + 2s) == "good");
    std::filesystem::remove(dir.file("token"));
    CHECK(ts.token(now + 4s) == "good");
    CHECK(logs.count("keeping the previous token") == 1);  // once per failure streak

    TokenSource never{"fallback", dir.file("missing"), 1s};
    CHECK(never.token(now) == "fallback");
}
