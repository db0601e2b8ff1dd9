#include "k8s-client/watch_stream.hpp"

namespace kroute::k8s {

Expected<void, std::string> WatchStreamParser::feed(std::string_view bytes, std::vector<nlohmann::json>& out) {
    if (!error_.empty()) return unexpected(error_);
    buffer_.append(bytes);
    while (pos_ < buffer_.size()) {
        const char c = buffer_[pos_];
        if (depth_ == 0) {
            // Between values: skip whitespace; a value must open with '{' or '['.
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                ++pos_;
                start_ = pos_;
                continue;
            }
            if (c != '{' && c != '[') {
                error_ = std::string{"watch stream: unexpected byte '"} + c + "' between values";
                return unexpected(error_);
            }
            start_ = pos_;
            depth_ = 1;
            ++pos_;
            continue;
        }
        ++pos_;
        if (in_string_) {
            if (escape_)
                escape_ = false;
            else if (c == '\\')
                escape_ = true;
            else if (c == '"')
                in_string_ = false;
            continue;
        }
        if (c == '"') {
            in_string_ = true;
        } else if (c == '{' || c == '[') {
            ++depth_;
        } else if (c == '}' || c == ']') {
            if (--depth_ == 0) {
                auto value = nlohmann::json::parse(buffer_.begin() + static_cast<std::ptrdiff_t>(start_),
                                                   buffer_.begin() + static_cast<std::ptrdiff_t>(pos_), nullptr,
                                                   /*allow_exceptions=*/false);
                if (value.is_discarded()) {
                    error_ = "watch stream: malformed JSON value at byte " + std::to_string(start_);
                    return unexpected(error_);
                }
                out.push_back(std::move(value));
                start_ = pos_;
            }
        }
    }
    // Drop what has been consumed so the buffer holds at most one partial value.
    buffer_.erase(0, start_);
    pos_ -= start_;
    start_ = 0;
    if (buffer_.size() > kMaxValueBytes) {
        error_ = "watch stream: a value exceeds " + std::to_string(kMaxValueBytes) + " bytes";
        return unexpected(error_);
    }
    return {};
}

namespace {

std::string object_resource_version(const nlohmann::json& object) {
    auto md = object.find("metadata");
    if (md == object.end() || !md->is_object()) return {};
    auto rv = md->find("resourceVersion");
    if (rv == md->end() || !rv->is_string()) return {};
    return rv->get<std::string>();
}

}  // namespace

Expected<WatchEvent, std::string> parse_watch_event(nlohmann::json value) {
    try {
        if (!value.is_object()) return unexpected(std::string{"watch event: expected an object, got "} + value.type_name());
        auto type_it = value.find("type");
        if (type_it == value.end() || !type_it->is_string()) return unexpected(std::string{"watch event: missing type"});
        const auto& type = type_it->get_ref<const std::string&>();
        auto object_it = value.find("object");
        if (object_it == value.end() || !object_it->is_object())
            return unexpected("watch event " + type + ": missing object");
        nlohmann::json& object = *object_it;

        WatchEvent ev;
        if (type == "ERROR") {
            ev.type = WatchEvent::Type::kError;
            ev.status = parse_api_status(object);
            return ev;
        }
        ev.resource_version = object_resource_version(object);
        if (type == "BOOKMARK") {
            ev.type = WatchEvent::Type::kBookmark;
            return ev;
        }
        if (type == "ADDED")
            ev.type = WatchEvent::Type::kAdded;
        else if (type == "MODIFIED")
            ev.type = WatchEvent::Type::kModified;
        else if (type == "DELETED")
            ev.type = WatchEvent::Type::kDeleted;
        else
            return unexpected("watch event: unknown type \"" + type + "\"");
        ev.object = std::move(object);
        return ev;
    } catch (const std::exception& e) {
        return unexpected(std::string{"watch event: "} + e.what());
    }
}

}  // namespace kroute::k8s
