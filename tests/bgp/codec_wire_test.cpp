// bgp/wire.hpp: the bounds-checked Reader and the Writer.
#include <catch2/catch.hpp>

#include "bgp/wire.hpp"
#include "tests/bgp/support/bytes.hpp"

using namespace kroute::bgp;
using kroute::bgp::test::Bytes;
using kroute::bgp::test::from_hex;
using kroute::bgp::test::hex;

TEST_CASE("Reader reads big-endian and refuses to run past the end", "[bgp][codec]") {
    const auto b = from_hex("01 0203 04050607 08 09");
    Reader r{b};
    CHECK(r.u8() == 0x01);
    CHECK(r.u16() == 0x0203);
    CHECK(r.u32() == 0x04050607u);
    CHECK(r.remaining() == 2);
    CHECK_FALSE(r.u32());          // 2 left: nothing consumed
    CHECK(r.remaining() == 2);
    CHECK_FALSE(r.u16() == std::nullopt);
    CHECK(r.empty());
    CHECK_FALSE(r.u8());
    CHECK_FALSE(r.bytes(1));
    CHECK(r.bytes(0));             // an empty read at the end is fine
}

TEST_CASE("Reader::sub bounds a length-prefixed part", "[bgp][codec]") {
    const auto b = from_hex("03 aabbcc dd");
    Reader r{b};
    auto n = r.u8();
    auto part = r.sub(*n);
    REQUIRE(part);
    CHECK(part->remaining() == 3);
    CHECK(part->u16() == 0xaabb);
    CHECK_FALSE(part->u16());      // cannot read into the bytes after the part
    CHECK(r.u8() == 0xdd);
    Reader s{b};
    CHECK_FALSE(s.sub(6));
    CHECK(s.remaining() == 5);
    CHECK(s.skip(5));
    CHECK_FALSE(s.skip(1));
}

TEST_CASE("Writer writes big-endian and patches length fields", "[bgp][codec]") {
    Bytes out;
    Writer w{out};
    w.u8(0x01);
    auto at16 = w.placeholder_u16();
    auto at8 = w.placeholder_u8();
    w.u32(0x0a0b0c0d);
    w.u16(0xfffe);
    w.patch_u16(at16, 0x1234);
    w.patch_u8(at8, 0x56);
    CHECK(hex(out) == "011234560a0b0c0dfffe");
    CHECK(w.size() == 10);
}
