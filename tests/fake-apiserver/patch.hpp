// The four PATCH flavours kubectl and client-go send, applied to an object as JSON. Pure.
//
// - JSON patch (RFC 6902) and JSON merge patch (RFC 7386): nlohmann's implementations.
// - Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch) with Node's and Service's
//   patch strategies hard-coded instead of read from Go struct tags: maps merge, `null` deletes a
//   key, lists listed in kMergeLists merge by their key, other lists are replaced. Directives
//   understood: `$patch: replace|delete` (in maps and list items), `$retainKeys`,
//   `$deleteFromPrimitiveList/<field>`; `$setElementOrder/<field>` is accepted and ignored.
//   Deliberate deviation: the real Node schema merges spec.podCIDRs as a set (the apiserver then
//   refuses any change of a set podCIDR); here it is replaced, so tests can move a node's podCIDR.
// - Apply patch (server-side apply): body is JSON; merged like a strategic merge patch (no field
//   ownership tracking); the store creates the object when it is absent.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/expected.hpp"
#include "tests/fake-apiserver/status.hpp"

namespace kroute::fake_apiserver {

enum class PatchType { kJsonPatch, kMergePatch, kStrategicMergePatch, kApplyPatch };

// From the request's Content-Type (parameters such as ";charset=utf-8" ignored).
[[nodiscard]] std::optional<PatchType> patch_type_from_content_type(std::string_view content_type);

// Errors are human-readable reasons; the caller turns them into a 422 Invalid / 400 Status.
[[nodiscard]] Expected<Json, std::string> apply_patch(const Json& target, PatchType type, const Json& patch);

[[nodiscard]] Expected<Json, std::string> strategic_merge_patch(const Json& target, const Json& patch);

}  // namespace kroute::fake_apiserver
