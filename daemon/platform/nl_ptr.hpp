// Owned libnl objects (STYLE.md E7): every libnl pointer kroute holds is an NlPtr, released with the
// matching libnl call. Ownership handed to libnl (rtnl_route_add_nexthop) goes through release().
// Included only by daemon/platform/*.cpp.
#pragma once

#include <memory>

#include <netlink/addr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

namespace kroute::daemon {

struct NlDelete {
    void operator()(nl_sock* p) const noexcept { nl_socket_free(p); }
    void operator()(nl_msg* p) const noexcept { nlmsg_free(p); }
    void operator()(nl_cb* p) const noexcept { nl_cb_put(p); }
    void operator()(nl_addr* p) const noexcept { nl_addr_put(p); }
    void operator()(rtnl_route* p) const noexcept { rtnl_route_put(p); }
    void operator()(rtnl_nexthop* p) const noexcept { rtnl_route_nh_free(p); }
};

template <class T>
using NlPtr = std::unique_ptr<T, NlDelete>;

}  // namespace kroute::daemon
