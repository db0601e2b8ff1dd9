// One include for Asio. g++ 12 with Asio needs <utility> first (STYLE.md, toolchain quirks).
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace kroute {
namespace asio = boost::asio;
}
