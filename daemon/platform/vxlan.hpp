// daemon::Vxlan: the overlay's VXLAN device and its per-node entries, the way flannel's and
// Calico's VXLAN modes lay them out, for nodes the underlay cannot route pod traffic to. One
// device per family:
//
//   kroute-vxlan   type vxlan id 4096 dstport 4789 local NODE_IPv4 nolearning dev UNDERLAY,
//                  MTU = underlay MTU - 50, address VTEP/32 (VTEP: the node's IPv4 podCIDR's
//                  network address), MAC derived from NODE_IPv4 (vtep_mac), so no node needs to
//                  publish it;
//   kroute-vxlan6  the same for IPv6: id 6096, local NODE_IPv6, MTU - 70, VTEP/128 from the IPv6
//                  podCIDR;
//   per remote node R: fdb  MAC(R) dst R's IP  (permanent), neigh VTEP(R) lladdr MAC(R)
//                  (permanent), and the Fib's route  R's podCIDR via VTEP(R) dev DEVICE onlink.
//
// Written with iproute2 (`ip`, `bridge`): a few entries per node, not worth a netlink client of
// our own. Blocking; call from a thread that may block (VxlanWriter below, or start-up).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/expected.hpp"
#include "common/ip.hpp"

namespace kroute::daemon {

inline constexpr const char* kVxlanDevice = "kroute-vxlan";
inline constexpr const char* kVxlanDevice6 = "kroute-vxlan6";
inline constexpr int kVxlanOverhead = 50;   // outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
inline constexpr int kVxlanOverhead6 = 70;  // outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14

[[nodiscard]] constexpr const char* vxlan_device(Family f) { return f == Family::kIpv4 ? kVxlanDevice : kVxlanDevice6; }
[[nodiscard]] constexpr int vxlan_overhead(Family f) { return f == Family::kIpv4 ? kVxlanOverhead : kVxlanOverhead6; }
[[nodiscard]] constexpr std::uint32_t vxlan_vni(Family f) { return f == Family::kIpv4 ? 4096 : 6096; }

// 02:6b:A:B:C:D for node A.B.C.D; 02:6c: and the last four bytes for an IPv6 node address:
// unicast, locally administered, unique per node address (IPv6 node addresses of one cluster
// differ in their last bytes, as kubelet's do). Pure.
[[nodiscard]] std::string vtep_mac(const IpAddress& node);
// Whether a MAC is one vtep_mac() makes: the entries kroute owns on its devices.
[[nodiscard]] bool is_vtep_mac(const std::string& mac);

struct VxlanConfig {
    std::string name = kVxlanDevice;
    std::uint32_t vni = 4096;
    std::uint16_t port = 4789;
    IpAddress local;           // this node's address, of the device's family
    std::string underlay_dev;  // the link that holds it
    int mtu = 1450;
    IpAddress vtep;            // this node's VTEP address
    friend bool operator==(const VxlanConfig&, const VxlanConfig&) = default;
};

struct VxlanPeer {
    IpAddress node;  // its underlay address
    IpAddress vtep;
    friend bool operator==(const VxlanPeer&, const VxlanPeer&) = default;
    friend auto operator<=>(const VxlanPeer&, const VxlanPeer&) = default;
};

// Creates the device, or recreates it when its id, port, local address or underlay differ; sets
// its MTU, address and state up.
[[nodiscard]] Expected<void, std::string> vxlan_ensure(const VxlanConfig& cfg);
// Brings the device's fdb and neighbour entries to exactly `peers`: missing ones added, stale ones
// removed (the kernel's own entries, like the all-zero default, are left alone).
[[nodiscard]] Expected<void, std::string> vxlan_set_peers(const std::string& name, const std::vector<VxlanPeer>& peers);
// Deletes the device (and with it its entries and routes); absent is not an error.
[[nodiscard]] Expected<void, std::string> vxlan_remove(const std::string& name);

// vxlan_set_peers on a thread of its own, the latest set winning; failures logged once per streak
// and retried every `retry`.
class VxlanWriter {
public:
    VxlanWriter(std::string name, std::chrono::milliseconds retry);
    ~VxlanWriter();
    VxlanWriter(const VxlanWriter&) = delete;
    VxlanWriter& operator=(const VxlanWriter&) = delete;
    void set(std::vector<VxlanPeer> peers);
    void stop();

private:
    void run();
    std::string name_;
    std::chrono::milliseconds retry_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<std::vector<VxlanPeer>> peers_;
    bool dirty_ = false;
    bool failing_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kroute::daemon
