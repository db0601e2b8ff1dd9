#include <catch2/catch.hpp>

#include <mutex>

#include "k8s-client/object_source.hpp"
#include "k8s_test_support.hpp"

using namespace kroute::k8s;
using namespace std::chrono_literals;
using nlohmann::json;
namespace t = kroute::k8s::test;

namespace {

using Type = NodeEvent::Type;
using Summary = std::vector<std::pair<Type, std::string>>;

class Recorder {
public:
    NodeEventSink sink() {
        return [this](NodeEvent ev) {
            std::lock_guard lock{mu_};
            events_.push_back(std::move(ev));
        };
    }
    Summary summary() {
        std::lock_guard lock{mu_};
        Summary out;
        for (const auto& e : events_) out.emplace_back(e.type, e.object.name);
        return out;
    }
    std::vector<NodeEvent> events() {
        std::lock_guard lock{mu_};
        return events_;
    }
    std::size_t size() {
        std::lock_guard lock{mu_};
        return events_.size();
    }

private:
    std::mutex mu_;
    std::vector<NodeEvent> events_;
};

json node(const std::string& name, const std::string& cidr) {
    return json{{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", name}}}, {"spec", {{"podCIDRs", {cidr}}}}};
}

std::string list(const std::vector<json>& items) {
    return json{{"kind", "List"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", ""}}}, {"items", items}}.dump(2);
}

}  // namespace

TEST_CASE("nodes file: initial content, changes as diffs, broken content ignored", "[k8s][nodes-file]") {
    t::TempDir dir;
    t::LogCapture logs;
    dir.write("nodes.json", list({node("a", "10.244.1.0/24"), node("b", "10.244.2.0/24")}));
    Recorder rec;
    auto watcher = make_nodes_file_watcher(dir.file("nodes.json"), 10ms);
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return rec.size() == 3; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"}, {Type::kAdded, "b"}, {Type::kSynced, ""}});

    // b's podCIDR changes, a goes, c comes.
    dir.write("nodes.json", list({node("b", "10.244.9.0/24"), node("c", "10.244.3.0/24")}));
    REQUIRE(t::wait_until([&] { return rec.size() == 7; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "a"}, {Type::kAdded, "b"}, {Type::kSynced, ""}, {Type::kDeleted, "a"},
                                   {Type::kModified, "b"}, {Type::kAdded, "c"}, {Type::kSynced, ""}});
    CHECK(rec.events()[4].object.pod_cidrs.front() == *kroute::Prefix::parse("10.244.9.0/24"));

    // Broken JSON, then a list with one broken node: nothing changes, each logged once.
    dir.write("nodes.json", "{\"kind\": \"List\", \"items\": [");
    REQUIRE(t::wait_until([&] { return logs.count("not valid JSON") == 1; }));
    dir.write("nodes.json", list({node("b", "10.244.9.0/24"), node("x", "10.244.999.0/24")}));
    REQUIRE(t::wait_until([&] { return logs.count("10.244.999.0/24") == 1; }));
    CHECK(logs.count("not valid JSON") == 1);  // not repeated while the file stays as it was
    CHECK(rec.size() == 7);

    // Fixed: the diff is against the last good content (b, c).
    dir.write("nodes.json", list({node("b", "10.244.9.0/24"), node("c", "10.244.3.0/24"), node("d", "10.244.4.0/24")}));
    REQUIRE(t::wait_until([&] { return rec.size() == 9; }));
    CHECK(rec.summary().at(7) == std::pair{Type::kAdded, std::string{"d"}});
    CHECK(rec.summary().at(8) == std::pair{Type::kSynced, std::string{}});

    // Rewritten with the same content: no events.
    dir.write("nodes.json", list({node("b", "10.244.9.0/24"), node("c", "10.244.3.0/24"), node("d", "10.244.4.0/24")}));
    watcher->stop();
    CHECK(rec.size() == 9);
}

TEST_CASE("nodes file: a missing file, then the API's NodeList fixture", "[k8s][nodes-file]") {
    t::TempDir dir;
    t::LogCapture logs;
    Recorder rec;
    auto watcher = make_nodes_file_watcher(dir.file("nodes.json"), 10ms);
    watcher->start(rec.sink());
    REQUIRE(t::wait_until([&] { return logs.count("cannot stat") == 1; }));
    CHECK(rec.size() == 0);
    dir.write("nodes.json", t::read_text(t::data_path("node-minikube-v1.23-raw-nodelist-curl.json")));
    REQUIRE(t::wait_until([&] { return rec.size() == 2; }));
    CHECK(rec.summary() == Summary{{Type::kAdded, "ip-172-31-29-188"}, {Type::kSynced, ""}});
    // An empty list deletes everything.
    dir.write("nodes.json", R"({"kind":"NodeList","items":[]})");
    REQUIRE(t::wait_until([&] { return rec.size() == 4; }));
    CHECK(rec.summary().at(2) == std::pair{Type::kDeleted, std::string{"ip-172-31-29-188"}});
    watcher->stop();
    watcher->stop();  // idempotent
}
