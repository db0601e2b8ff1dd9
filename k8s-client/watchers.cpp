// The typed sources over the generic Reflector: a ReflectorStore that parses each object with its
// kind's parser into an ObjectCache and emits what changed to the sink.
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "k8s-client/object_cache.hpp"
#include "k8s-client/reflector.hpp"

namespace kroute::k8s {
namespace {

template <class T>
class TypedStore final : public ReflectorStore {
public:
    using Parse = Expected<T, std::string> (*)(const nlohmann::json&);

    TypedStore(const ResourceKind& kind, Parse parse) : kind_{kind}, parse_{parse} {}

    void set_sink(EventSink<T> sink) { sink_ = std::move(sink); }

    void begin_list() override {
        pending_.clear();
        malformed_.clear();
    }

    Expected<Page, std::string> list_page(const nlohmann::json& page) override {
        auto parsed = parse_list<T>(page, kind_, parse_);
        if (!parsed) return unexpected(std::move(parsed).error());
        for (auto& o : parsed->items) pending_.push_back(std::move(o));
        malformed_.insert(parsed->malformed_keys.begin(), parsed->malformed_keys.end());
        return Page{std::move(parsed->resource_version), std::move(parsed->continue_token), std::move(parsed->errors)};
    }

    std::size_t end_list() override {
        for (const auto& key : malformed_)
            if (cache_.objects().contains(key))
                log::get("k8s")->warn("{} {}: keeping its last usable version (the list has it malformed)", kind_.what, key);
        for (auto& ev : cache_.replace(std::move(pending_), malformed_)) emit(std::move(ev));
        pending_ = {};
        malformed_.clear();
        return cache_.objects().size();
    }

    // A MODIFIED object that does not parse leaves the last usable version in place (the error is
    // logged by the reflector); a DELETED one needs only its key.
    Expected<void, std::string> apply(EventType type, const nlohmann::json& object) override {
        auto parsed = parse_(object);
        if (!parsed && type == EventType::kDeleted) {
            if (auto key = raw_object_key(object, kind_)) {
                if (auto ev = cache_.erase(*key)) emit(std::move(*ev));
                return {};
            }
        }
        if (!parsed) return unexpected(std::move(parsed).error());
        if (auto ev = cache_.apply(type, std::move(*parsed))) emit(std::move(*ev));
        return {};
    }

private:
    void emit(ObjectEvent<T> ev) {
        if (sink_) sink_(std::move(ev));
    }

    ResourceKind kind_;
    Parse parse_;
    EventSink<T> sink_;
    ObjectCache<T> cache_;
    std::vector<T> pending_;
    std::set<std::string> malformed_;
};

template <class T>
class Watcher final : public Source<T> {
public:
    Watcher(ClientConfig cfg, WatchOptions opts, const ResourceKind& kind, typename TypedStore<T>::Parse parse)
        : store_{kind, parse}, reflector_{std::move(cfg), opts, kind, store_} {}
    ~Watcher() override { reflector_.stop(); }  // before store_ goes

    void start(EventSink<T> sink) override {
        store_.set_sink(std::move(sink));
        reflector_.start();
    }
    void stop() override { reflector_.stop(); }

private:
    TypedStore<T> store_;
    Reflector reflector_;
};

}  // namespace

std::unique_ptr<Source<Node>> make_node_watcher(ClientConfig cfg, WatchOptions opts) {
    return std::make_unique<Watcher<Node>>(std::move(cfg), opts, kNodes, parse_node);
}

std::unique_ptr<Source<Service>> make_service_watcher(ClientConfig cfg, WatchOptions opts) {
    return std::make_unique<Watcher<Service>>(std::move(cfg), opts, kServices, parse_service);
}

std::unique_ptr<Source<EndpointSlice>> make_endpoint_slice_watcher(ClientConfig cfg, WatchOptions opts) {
    return std::make_unique<Watcher<EndpointSlice>>(std::move(cfg), opts, kEndpointSlices, parse_endpoint_slice);
}

}  // namespace kroute::k8s
