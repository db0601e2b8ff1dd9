// Bounds-checked big-endian Reader and Writer over byte spans: the only place in the codec that
// indexes raw wire bytes. A short buffer is a value (nullopt), never undefined behaviour, so a
// decoder built on Reader cannot read past what the peer sent. Pure, header-only, no allocation in
// Reader; Writer appends to a caller-owned vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace kroute::bgp {

class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> buf) noexcept : buf_{buf} {}

    [[nodiscard]] std::size_t remaining() const noexcept { return buf_.size() - pos_; }
    [[nodiscard]] bool empty() const noexcept { return remaining() == 0; }
    [[nodiscard]] std::size_t position() const noexcept { return pos_; }
    // What is left, without consuming it.
    [[nodiscard]] std::span<const std::uint8_t> rest() const noexcept { return buf_.subspan(pos_); }

    [[nodiscard]] std::optional<std::uint8_t> u8() noexcept {
        if (remaining() < 1) return std::nullopt;
        return buf_[pos_++];
    }
    [[nodiscard]] std::optional<std::uint16_t> u16() noexcept {
        if (remaining() < 2) return std::nullopt;
        auto v = static_cast<std::uint16_t>(buf_[pos_] << 8 | buf_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    [[nodiscard]] std::optional<std::uint32_t> u32() noexcept {
        if (remaining() < 4) return std::nullopt;
        std::uint32_t v = static_cast<std::uint32_t>(buf_[pos_]) << 24 | static_cast<std::uint32_t>(buf_[pos_ + 1]) << 16 |
                          static_cast<std::uint32_t>(buf_[pos_ + 2]) << 8 | static_cast<std::uint32_t>(buf_[pos_ + 3]);
        pos_ += 4;
        return v;
    }
    // The next n bytes as a view into the buffer.
    [[nodiscard]] std::optional<std::span<const std::uint8_t>> bytes(std::size_t n) noexcept {
        if (remaining() < n) return std::nullopt;
        auto s = buf_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    // A Reader over the next n bytes (a length-prefixed part), consuming them here.
    [[nodiscard]] std::optional<Reader> sub(std::size_t n) noexcept {
        auto s = bytes(n);
        if (!s) return std::nullopt;
        return Reader{*s};
    }
    [[nodiscard]] bool skip(std::size_t n) noexcept {
        if (remaining() < n) return false;
        pos_ += n;
        return true;
    }

private:
    std::span<const std::uint8_t> buf_;
    std::size_t pos_ = 0;
};

class Writer {
public:
    explicit Writer(std::vector<std::uint8_t>& out) noexcept : out_{out} {}

    [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) {
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        out_.push_back(static_cast<std::uint8_t>(v >> 24));
        out_.push_back(static_cast<std::uint8_t>(v >> 16));
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

    // Reserve a big-endian u8/u16 length field to fill in later with patch_*(), once the part it
    // measures has been written. Returns the field's offset.
    [[nodiscard]] std::size_t placeholder_u8() {
        out_.push_back(0);
        return out_.size() - 1;
    }
    [[nodiscard]] std::size_t placeholder_u16() {
        out_.push_back(0);
        out_.push_back(0);
        return out_.size() - 2;
    }
    void patch_u8(std::size_t at, std::uint8_t v) noexcept { out_[at] = v; }
    void patch_u16(std::size_t at, std::uint16_t v) noexcept {
        out_[at] = static_cast<std::uint8_t>(v >> 8);
        out_[at + 1] = static_cast<std::uint8_t>(v);
    }

private:
    std::vector<std::uint8_t>& out_;
};

}  // namespace kroute::bgp
