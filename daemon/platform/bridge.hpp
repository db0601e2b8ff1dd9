// The node's pod bridge (kube-bridge), made before the first pod as kube-router makes it, with the
// MTU the conflist gives the pods' veths: the CNI bridge plugin leaves an existing bridge's MTU as
// it is, so a node whose MTU changed (the overlay turned on) would keep the old one.
#pragma once

#include <string>

#include "common/expected.hpp"

namespace kroute::daemon {

inline constexpr const char* kPodBridge = "kube-bridge";

// Creates the bridge if missing, sets its MTU if it differs, brings it up. A link of that name
// that is not a bridge is an error, left alone. Blocking (iproute2).
[[nodiscard]] Expected<void, std::string> bridge_ensure(const std::string& name, int mtu);
// Deletes the bridge if it exists and is a bridge; absent is not an error.
[[nodiscard]] Expected<void, std::string> bridge_remove(const std::string& name);

}  // namespace kroute::daemon
