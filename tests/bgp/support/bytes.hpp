// Test helpers for byte-exact codec tests: hex in and out, concatenation, and the captured vectors
// in tests/data/bgp/*.hex ("<name> <hex>" per line, '#' comments; each file names its source).
#pragma once

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kroute::bgp::test {

using Bytes = std::vector<std::uint8_t>;

inline std::string hex(const Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s += digits[c >> 4];
        s += digits[c & 0xf];
    }
    return s;
}

// Whitespace inside the text is ignored, so vectors can be written in annotated groups.
inline Bytes from_hex(const std::string& text) {
    Bytes out;
    int hi = -1;
    for (char c : text) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else if (c == ' ' || c == '\n' || c == '\t') continue;
        else throw std::invalid_argument("bad hex digit");
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
    return out;
}

inline Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline const Bytes kMarker(16, 0xff);

// All vectors of one capture file, by name. Throws (failing the test) if the file is missing.
inline std::map<std::string, Bytes> load_vectors(const std::string& file) {
    std::ifstream in(std::string(KROUTE_TEST_DATA_DIR) + "/bgp/" + file);
    if (!in) throw std::runtime_error("cannot open test vector file " + file);
    std::map<std::string, Bytes> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string name, h;
        ls >> name >> h;
        out[name] = from_hex(h);
    }
    return out;
}

}  // namespace kroute::bgp::test
