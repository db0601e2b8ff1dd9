#include "tests/fake-apiserver/base64.hpp"

#include <array>
#include <cstdint>

namespace kroute::fake_apiserver {

namespace {
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}
}  // namespace

std::string base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        auto v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                 static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                 static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
        out += kAlphabet[v >> 18 & 63];
        out += kAlphabet[v >> 12 & 63];
        out += kAlphabet[v >> 6 & 63];
        out += kAlphabet[v & 63];
    }
    if (const auto rest = in.size() - i; rest > 0) {
        auto v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        out += kAlphabet[v >> 18 & 63];
        out += kAlphabet[v >> 12 & 63];
        out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        std::array<int, 4> s{};
        int pad = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = in[i + k];
            const bool last_quad = i + 4 == in.size();
            if (c == '=' && last_quad && k >= 2) {
                ++pad;
                s[k] = 0;
                continue;
            }
            if (pad > 0) return std::nullopt;  // data after padding
            s[k] = sextet(c);
            if (s[k] < 0) return std::nullopt;
        }
        const auto v = static_cast<std::uint32_t>(s[0] << 18 | s[1] << 12 | s[2] << 6 | s[3]);
        out += static_cast<char>(v >> 16 & 0xff);
        if (pad < 2) out += static_cast<char>(v >> 8 & 0xff);
        if (pad < 1) out += static_cast<char>(v & 0xff);
    }
    return out;
}

}  // namespace kroute::fake_apiserver
