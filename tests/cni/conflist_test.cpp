#include "cni-writer/conflist.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

using kroute::Prefix;
using kroute::cni::ConflistOptions;
using kroute::cni::default_template;
using kroute::cni::render_conflist;
using Json = nlohmann::ordered_json;

const std::string kDataDir = std::string{KROUTE_TEST_DATA_DIR} + "/cni/";

Prefix prefix(const char* text) {
    auto p = Prefix::parse(text);
    REQUIRE(p.has_value());
    return *p;
}

std::string read_data(const std::string& name) {
    std::ifstream in(kDataDir + name, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Compares with tests/data/cni/<name>; KROUTE_UPDATE_GOLDEN=1 rewrites the file instead.
void check_golden(const std::string& name, const std::string& actual) {
    const char* update = std::getenv("KROUTE_UPDATE_GOLDEN");
    if (update != nullptr && std::string{update} == "1") {
        std::ofstream out(kDataDir + name, std::ios::binary | std::ios::trunc);
        out << actual;
        REQUIRE(out.good());
        WARN("rewrote golden file " << name);
    }
    CHECK(actual == read_data(name));
}

const Json& bridge_of(const Json& conf) {
    for (const auto& p : conf.at("plugins")) {
        if (p.at("type") == "bridge") return p;
    }
    FAIL("no bridge plugin in the output");
    throw std::logic_error("unreachable");
}

std::vector<std::string> keys_of(const Json& obj) {
    std::vector<std::string> keys;
    for (const auto& item : obj.items()) keys.push_back(item.key());
    return keys;
}

}  // namespace

TEST_CASE("default template, one IPv4 podCIDR", "[cni][conflist]") {
    auto out = render_conflist("", {prefix("10.244.1.0/24")}, ConflistOptions{});
    REQUIRE(out.has_value());
    check_golden("default-v4.conflist", *out);

    auto conf = Json::parse(*out);
    CHECK(keys_of(conf) == std::vector<std::string>{"cniVersion", "name", "plugins"});
    CHECK(conf["cniVersion"] == "0.4.0");
    CHECK(conf["name"] == "kubernetes");
    REQUIRE(conf["plugins"].size() == 2);
    const auto& bridge = conf["plugins"][0];
    CHECK(keys_of(bridge) == std::vector<std::string>{"type", "bridge", "isGateway", "isDefaultGateway",
                                                      "hairpinMode", "ipMasq", "mtu", "ipam"});
    CHECK(bridge["bridge"] == "kube-bridge");
    CHECK(bridge["isGateway"] == true);
    CHECK(bridge["isDefaultGateway"] == true);
    CHECK(bridge["hairpinMode"] == true);
    CHECK(bridge["ipMasq"] == false);
    CHECK(bridge["mtu"] == 1500);
    CHECK(bridge["ipam"] == Json::parse(R"({"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]]})"));
    const auto& portmap = conf["plugins"][1];
    CHECK(portmap == Json::parse(R"({"type":"portmap","capabilities":{"portMappings":true},"snat":true})"));
}

TEST_CASE("the default template is a valid conflist without addresses", "[cni][conflist]") {
    auto conf = Json::parse(default_template());
    CHECK(conf["plugins"][0]["type"] == "bridge");
    CHECK_FALSE(conf["plugins"][0]["ipam"].contains("ranges"));
    // Rendering the text explicitly is the same as rendering the empty (built-in) template.
    auto a = render_conflist(default_template(), {prefix("10.244.7.0/24")}, ConflistOptions{});
    auto b = render_conflist("", {prefix("10.244.7.0/24")}, ConflistOptions{});
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(*a == *b);
}

TEST_CASE("dual-stack: one range set per podCIDR, in the given order, with MTU and dataDir", "[cni][conflist]") {
    ConflistOptions opts;
    opts.mtu = 1450;
    opts.ipam_data_dir = "/var/lib/cni/kroute-node1";
    opts.network_name = "kroute";
    opts.cni_version = "1.0.0";
    auto out = render_conflist("", {prefix("fd00:10:244:1::/64"), prefix("10.244.1.0/24")}, opts);
    REQUIRE(out.has_value());
    check_golden("default-dualstack-datadir.conflist", *out);

    auto conf = Json::parse(*out);
    CHECK(conf["name"] == "kroute");
    CHECK(conf["cniVersion"] == "1.0.0");
    const auto& bridge = bridge_of(conf);
    CHECK(bridge["mtu"] == 1450);
    CHECK(bridge["ipam"]["ranges"] ==
          Json::parse(R"([[{"subnet":"fd00:10:244:1::/64"}],[{"subnet":"10.244.1.0/24"}]])"));
    CHECK(bridge["ipam"]["dataDir"] == "/var/lib/cni/kroute-node1");
}

TEST_CASE("kube-router's template: unknown keys kept, name and version from the template", "[cni][conflist]") {
    ConflistOptions opts;
    opts.mtu = 9000;
    auto out = render_conflist(read_data("kube-router-template.json"), {prefix("10.244.3.0/24")}, opts);
    REQUIRE(out.has_value());
    check_golden("kube-router-template.conflist", *out);

    auto conf = Json::parse(*out);
    CHECK(conf["name"] == "mynet");
    CHECK(conf["cniVersion"] == "0.3.0");
    const auto& bridge = bridge_of(conf);
    CHECK(bridge["name"] == "kubernetes");  // not a key kroute manages
    CHECK(keys_of(bridge) == std::vector<std::string>{"name", "type", "bridge", "isDefaultGateway", "hairpinMode",
                                                      "ipMasq", "ipam", "mtu"});
    CHECK(bridge["mtu"] == 9000);
    CHECK(conf["plugins"][1]["capabilities"] == Json::parse(R"({"snat":true,"portMappings":true})"));
}

TEST_CASE("legacy ipam.subnet is replaced by ranges", "[cni][conflist]") {
    auto out = render_conflist(read_data("legacy-subnet-template.json"), {prefix("10.244.5.0/24")}, ConflistOptions{});
    REQUIRE(out.has_value());
    check_golden("legacy-subnet-template.conflist", *out);

    const auto conf = Json::parse(*out);
    const auto& ipam = bridge_of(conf)["ipam"];
    CHECK_FALSE(ipam.contains("subnet"));
    CHECK_FALSE(ipam.contains("rangeStart"));  // belonged to the old subnet
    CHECK(ipam["routes"] == Json::parse(R"([{"dst":"0.0.0.0/0"}])"));
    CHECK(ipam["ranges"] == Json::parse(R"([[{"subnet":"10.244.5.0/24"}]])"));
}

TEST_CASE("ranges in the template are replaced, not merged", "[cni][conflist]") {
    const std::string tmpl = R"({"cniVersion":"0.4.0","name":"n","plugins":[{"type":"bridge",
        "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.9.0/24"}]],"dataDir":"/keep"}}]})";
    auto out = render_conflist(tmpl, {prefix("10.244.1.0/24")}, ConflistOptions{});
    REQUIRE(out.has_value());
    const auto conf = Json::parse(*out);
    const auto& ipam = bridge_of(conf)["ipam"];
    CHECK(ipam["ranges"] == Json::parse(R"([[{"subnet":"10.244.1.0/24"}]])"));
    CHECK(ipam["dataDir"] == "/keep");  // no dataDir option: the template's stays
}

TEST_CASE("a bridge plugin without ipam gets host-local", "[cni][conflist]") {
    const std::string tmpl = R"({"cniVersion":"0.4.0","name":"n","plugins":[{"type":"bridge"}]})";
    auto out = render_conflist(tmpl, {prefix("10.244.1.0/24")}, ConflistOptions{});
    REQUIRE(out.has_value());
    const auto conf = Json::parse(*out);
    const auto& bridge = bridge_of(conf);
    CHECK(bridge["bridge"] == "kube-bridge");
    CHECK(bridge["ipam"]["type"] == "host-local");
}

TEST_CASE("template and input errors are values that say what is wrong", "[cni][conflist]") {
    const std::vector<Prefix> v4{prefix("10.244.1.0/24")};
    auto error_of = [](const kroute::Expected<std::string, std::string>& r) {
        REQUIRE_FALSE(r.has_value());
        return r.error();
    };
    using Catch::Matchers::Contains;

    CHECK_THAT(error_of(render_conflist("{not json", v4, {})), Contains("not JSON"));
    CHECK_THAT(error_of(render_conflist("[]", v4, {})), Contains("not a JSON object"));
    CHECK_THAT(error_of(render_conflist(R"({"name":"n"})", v4, {})), Contains("no \"plugins\""));
    CHECK_THAT(error_of(render_conflist(R"({"name":"n","type":"bridge"})", v4, {})), Contains("single-plugin"));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":{}})", v4, {})), Contains("not a list"));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[{"type":"portmap"}]})", v4, {})), Contains("no plugin of type \"bridge\""));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[]})", v4, {})), Contains("no plugin of type \"bridge\""));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[{"type":"bridge"},{"type":"bridge"}]})", v4, {})),
               Contains("more than one bridge"));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[7]})", v4, {})), Contains("plugins[0] is not an object"));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[{"type":1}]})", v4, {})), Contains("no string \"type\""));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[{"type":"bridge","ipam":"x"}]})", v4, {})),
               Contains("\"ipam\" is not an object"));
    CHECK_THAT(error_of(render_conflist(R"({"plugins":[{"type":"bridge","ipam":{"type":"dhcp"}}]})", v4, {})),
               Contains("host-local"));
    CHECK_THAT(error_of(render_conflist(R"({"name":3,"plugins":[{"type":"bridge"}]})", v4, {})),
               Contains("\"name\" is not a string"));
    CHECK_THAT(error_of(render_conflist(R"({"name":"bad name","plugins":[{"type":"bridge"}]})", v4, {})),
               Contains("network name"));

    CHECK_THAT(error_of(render_conflist("", {}, {})), Contains("no podCIDR"));
    CHECK_THAT(error_of(render_conflist("", {prefix("10.244.0.0/16"), prefix("10.244.1.0/24")}, {})),
               Contains("overlap"));
    ConflistOptions opts;
    opts.mtu = 1279;
    CHECK(render_conflist("", v4, opts).has_value());  // IPv4 only: 68 is the floor
    CHECK_THAT(error_of(render_conflist("", {prefix("fd00::/64")}, opts)), Contains("MTU 1279"));
    opts.mtu = 67;
    CHECK_THAT(error_of(render_conflist("", v4, opts)), Contains("MTU 67"));
    opts.mtu = 65536;
    CHECK_THAT(error_of(render_conflist("", v4, opts)), Contains("MTU 65536"));
    opts = {};
    opts.bridge = "a-bridge-name-too-long";
    CHECK_THAT(error_of(render_conflist("", v4, opts)), Contains("bridge name"));
    opts.bridge = "";
    CHECK_THAT(error_of(render_conflist("", v4, opts)), Contains("bridge name"));
}

TEST_CASE("rendering is deterministic and idempotent on its own output", "[cni][conflist]") {
    const std::vector<Prefix> cidrs{prefix("10.244.1.0/24"), prefix("fd00:10:244:1::/64")};
    ConflistOptions opts;
    opts.ipam_data_dir = "/d";
    auto first = render_conflist(read_data("kube-router-template.json"), cidrs, opts);
    REQUIRE(first.has_value());
    auto again = render_conflist(*first, cidrs, opts);
    REQUIRE(again.has_value());
    CHECK(*again == *first);  // so the atomic writer sees "unchanged" on every resync
}

TEST_CASE("a changed podCIDR replaces the old one", "[cni][conflist]") {
    auto first = render_conflist("", {prefix("10.244.1.0/24")}, {});
    REQUIRE(first.has_value());
    auto second = render_conflist(*first, {prefix("10.244.2.0/24")}, {});
    REQUIRE(second.has_value());
    CHECK(bridge_of(Json::parse(*second))["ipam"]["ranges"] == Json::parse(R"([[{"subnet":"10.244.2.0/24"}]])"));
}

TEST_CASE("other plugins and top-level keys of a template pass through untouched", "[cni][conflist]") {
    const std::string tmpl = R"({"cniVersion":"1.0.0","name":"pods","disableCheck":true,"plugins":[
        {"type":"bridge","bridge":"cbr0","ipMasq":true,"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}]}},
        {"type":"tuning","sysctl":{"net.core.somaxconn":"500"}},
        {"type":"bandwidth","capabilities":{"bandwidth":true}}]})";
    auto out = render_conflist(tmpl, {prefix("10.244.4.0/24")}, ConflistOptions{});
    REQUIRE(out.has_value());
    auto conf = Json::parse(*out);
    auto expected = Json::parse(tmpl);
    expected["plugins"][0]["bridge"] = "kube-bridge";  // the one kroute creates
    expected["plugins"][0]["mtu"] = 1500;
    expected["plugins"][0]["ipam"]["ranges"] = Json::parse(R"([[{"subnet":"10.244.4.0/24"}]])");
    CHECK(conf == expected);  // ordered_json: equal means same keys, values and order
    CHECK(bridge_of(conf)["ipMasq"] == true);  // the operator's choice, not kroute's default
}
