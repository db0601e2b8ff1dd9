#include "bgp/fsm.hpp"

#include <algorithm>

namespace kroute::bgp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// RFC 6608: FSM Error subcodes, one per state in which the unexpected message arrived.
constexpr std::uint8_t kFsmErrorInOpenSent = 1;
constexpr std::uint8_t kFsmErrorInOpenConfirm = 2;
constexpr std::uint8_t kFsmErrorInEstablished = 3;

std::string describe(std::uint8_t code, std::uint8_t subcode) {
    return notification_to_string(code, subcode) + " (" + std::to_string(code) + "/" + std::to_string(subcode) + ")";
}

}  // namespace

std::string_view to_string(State s) noexcept {
    switch (s) {
        case State::kIdle: return "Idle";
        case State::kConnect: return "Connect";
        case State::kActive: return "Active";
        case State::kOpenSent: return "OpenSent";
        case State::kOpenConfirm: return "OpenConfirm";
        case State::kEstablished: return "Established";
    }
    return "Unknown";
}

std::string_view to_string(Timer t) noexcept {
    switch (t) {
        case Timer::kConnectRetry: return "ConnectRetry";
        case Timer::kHold: return "Hold";
        case Timer::kKeepalive: return "Keepalive";
        case Timer::kIdleHold: return "IdleHold";
    }
    return "Unknown";
}

Fsm::Fsm(FsmConfig cfg) : cfg_{cfg}, rng_{cfg.jitter_seed == 0 ? 0x9e3779b97f4a7c15ULL : cfg.jitter_seed} {}

bool Fsm::four_octet_as() const noexcept { return negotiated_.four_octet_as; }

OpenMessage Fsm::local_open() const {
    OpenMessage open;
    open.my_as = cfg_.local_as <= 0xffff ? static_cast<std::uint16_t>(cfg_.local_as) : kAsTrans;
    open.hold_time = static_cast<std::uint16_t>(std::clamp<std::int64_t>(cfg_.hold_time.count(), 0, 0xffff));
    open.bgp_id = cfg_.local_id;
    open.multiprotocol.push_back(AfiSafi{kAfiIpv4, kSafiUnicast});
    if (cfg_.ipv6_unicast) open.multiprotocol.push_back(AfiSafi{kAfiIpv6, kSafiUnicast});
    open.route_refresh = true;
    open.four_octet_as = cfg_.local_as;
    open.extended_message = cfg_.extended_message;
    open.enhanced_route_refresh = cfg_.enhanced_route_refresh;
    open.graceful_restart = cfg_.graceful_restart;
    open.add_path = cfg_.add_path;
    open.extended_next_hop = cfg_.extended_next_hop;
    return open;
}

std::optional<SendNotification> Fsm::check_open(const OpenMessage& open) const {
    if (open.version != 4) {  // RFC 4271 §6.2: data = the largest version we support
        return SendNotification{kOpenMessageError, kUnsupportedVersionNumber, Bytes{0x00, 0x04}};
    }
    if (open.asn() != cfg_.remote_as) return SendNotification{kOpenMessageError, kBadPeerAs, {}};
    // RFC 6793 §4.1: a 2-octet AS field that disagrees with the 4-octet capability is a bad peer AS
    // unless it is AS_TRANS.
    if (open.four_octet_as && open.my_as != kAsTrans && open.my_as != *open.four_octet_as) {
        return SendNotification{kOpenMessageError, kBadPeerAs, {}};
    }
    // RFC 4271 §6.2 (and RFC 6286 §2.2 within one AS): zero or our own identifier is not a peer's.
    if (open.bgp_id == 0 || open.bgp_id == cfg_.local_id) {
        return SendNotification{kOpenMessageError, kBadBgpIdentifier, {}};
    }
    if (open.hold_time == 1 || open.hold_time == 2) {  // RFC 4271 §4.2: zero or at least three
        return SendNotification{kOpenMessageError, kUnacceptableHoldTime, {}};
    }
    return std::nullopt;
}

std::vector<Action> Fsm::handle(const Event& event) {
    std::vector<Action> out;
    const State s = state_;
    std::visit(
        Overloaded{
            [&](const ManualStart& e) {
                if (s != State::kIdle) return;
                if (!started_) failures_ = 0;  // a restart during back-off keeps the damping
                started_ = true;
                out.push_back(CancelTimer{Timer::kIdleHold});
                start(out, e.passive_tcp);
            },
            [&](const ManualStop& e) {
                const bool had_started = started_;
                started_ = false;
                if (s == State::kIdle) {
                    if (had_started) out.push_back(CancelTimer{Timer::kIdleHold});
                    return;
                }
                std::optional<SendNotification> n;
                // A NOTIFICATION needs an open connection to go on (RFC 4271 §8.2.2, ManualStop).
                if (!e.silent && (s == State::kOpenSent || s == State::kOpenConfirm || s == State::kEstablished)) {
                    n = SendNotification{kCease, e.subcode, e.data};
                }
                drop(out, std::move(n), "stopped", false);
            },
            [&](const TcpConnected&) {
                if (s == State::kConnect || s == State::kActive) {
                    connected(out);
                } else if (s == State::kIdle) {
                    out.push_back(CloseTcp{});  // RFC 4271 §8.2.2 Idle: refuse connections
                }
                // OpenSent and later: a second connection is the owner's collision business.
            },
            [&](const TcpConnectionFails&) {
                switch (s) {
                    case State::kIdle: return;
                    case State::kConnect:
                    case State::kActive:
                        // RFC 4271 §8.2.2 Connect: restart ConnectRetry, go to Active; it redials.
                        out.push_back(CloseTcp{});
                        out.push_back(ArmTimer{Timer::kConnectRetry, jittered(cfg_.connect_retry)});
                        state_ = State::kActive;
                        return;
                    default: drop(out, std::nullopt, "connection closed", true); return;
                }
            },
            [&](const TimerExpired& e) {
                switch (e.timer) {
                    case Timer::kIdleHold:
                        if (s == State::kIdle && started_) start(out, false);
                        return;
                    case Timer::kConnectRetry:
                        if (s == State::kConnect || (s == State::kActive && !cfg_.passive)) {
                            if (s == State::kConnect) out.push_back(CloseTcp{});  // abandon the attempt
                            out.push_back(Connect{});
                            out.push_back(ArmTimer{Timer::kConnectRetry, jittered(cfg_.connect_retry)});
                            state_ = State::kConnect;
                        }
                        return;
                    case Timer::kHold:
                        if (s == State::kOpenSent || s == State::kOpenConfirm || s == State::kEstablished) {
                            drop(out, SendNotification{kHoldTimerExpired, 0, {}}, "", true);
                        }
                        return;
                    case Timer::kKeepalive:
                        if ((s == State::kOpenConfirm || s == State::kEstablished) && keepalive_.count() > 0) {
                            out.push_back(SendKeepalive{});
                            out.push_back(ArmTimer{Timer::kKeepalive, keepalive_});
                        }
                        return;
                }
            },
            [&](const OpenReceived& e) {
                if (s == State::kOpenSent) {
                    open_received(e.open, out);
                } else if (s != State::kIdle) {
                    fsm_error(out);
                }
            },
            [&](const KeepaliveReceived&) {
                if (s == State::kOpenConfirm) {
                    state_ = State::kEstablished;
                    failures_ = 0;
                    last_error_.clear();
                    restart_hold(out);
                    out.push_back(SessionUp{});
                } else if (s == State::kEstablished) {
                    restart_hold(out);
                } else if (s != State::kIdle) {
                    fsm_error(out);
                }
            },
            [&](const UpdateReceived&) {
                if (s == State::kEstablished) {
                    restart_hold(out);
                } else if (s != State::kIdle) {
                    fsm_error(out);
                }
            },
            [&](const RouteRefreshReceived&) {
                if (s == State::kEstablished) {
                    restart_hold(out);
                } else if (s != State::kIdle) {
                    fsm_error(out);
                }
            },
            [&](const NotificationReceived& e) {
                if (s == State::kIdle) return;
                drop(out, std::nullopt,
                     "received " + describe(e.notification.code, e.notification.subcode), true, true);
            },
            [&](const MessageDecodeFailed& e) {
                if (s == State::kIdle) return;
                drop(out, SendNotification{e.error.code, e.error.subcode, e.error.data}, "", true);
            },
            [&](const CollisionDump&) {
                if (s == State::kIdle) return;
                std::optional<SendNotification> n;
                if (s == State::kOpenSent || s == State::kOpenConfirm || s == State::kEstablished) {
                    n = SendNotification{kCease, kCeaseConnectionCollisionResolution, {}};
                }
                // No back-off: the other connection to the same peer carries on.
                started_ = false;
                drop(out, std::move(n), "", false);
            },
        },
        event);
    return out;
}

void Fsm::start(std::vector<Action>& out, bool passive) {
    peer_open_.reset();
    negotiated_ = {};
    if (cfg_.passive || passive) {
        state_ = State::kActive;  // RFC 4271 §8.2.2: passive start waits in Active
        return;
    }
    out.push_back(Connect{});
    out.push_back(ArmTimer{Timer::kConnectRetry, jittered(cfg_.connect_retry)});
    state_ = State::kConnect;
}

void Fsm::connected(std::vector<Action>& out) {
    out.push_back(CancelTimer{Timer::kConnectRetry});
    out.push_back(SendOpen{local_open()});
    out.push_back(ArmTimer{Timer::kHold, kOpenSentHoldTime});
    state_ = State::kOpenSent;
}

void Fsm::open_received(const OpenMessage& open, std::vector<Action>& out) {
    if (auto n = check_open(open)) {
        drop(out, std::move(*n), "", true);
        return;
    }
    peer_open_ = open;
    negotiated_ = negotiate(local_open(), open);
    hold_ = std::min(cfg_.hold_time, seconds{open.hold_time});
    if (hold_.count() == 0) {
        keepalive_ = seconds{0};  // RFC 4271 §4.4: hold 0 means no periodic KEEPALIVEs
    } else {
        keepalive_ = cfg_.keepalive.count() > 0 ? std::min(cfg_.keepalive, hold_ / 3) : hold_ / 3;
        if (keepalive_.count() == 0) keepalive_ = seconds{1};
    }
    out.push_back(SendKeepalive{});
    if (hold_.count() > 0) {
        out.push_back(ArmTimer{Timer::kHold, hold_});
        out.push_back(ArmTimer{Timer::kKeepalive, keepalive_});
    } else {
        out.push_back(CancelTimer{Timer::kHold});
    }
    state_ = State::kOpenConfirm;
}

void Fsm::restart_hold(std::vector<Action>& out) const {
    if (hold_.count() > 0) out.push_back(ArmTimer{Timer::kHold, hold_});
}

void Fsm::fsm_error(std::vector<Action>& out) {
    std::uint8_t sub = 0;
    switch (state_) {
        case State::kOpenSent: sub = kFsmErrorInOpenSent; break;
        case State::kOpenConfirm: sub = kFsmErrorInOpenConfirm; break;
        case State::kEstablished: sub = kFsmErrorInEstablished; break;
        default: break;
    }
    std::optional<SendNotification> n;
    if (sub != 0) n = SendNotification{kFsmError, sub, {}};
    drop(out, std::move(n), "unexpected message", true);
}

void Fsm::drop(std::vector<Action>& out, std::optional<SendNotification> notify, std::string reason, bool backoff,
               bool notification_received) {
    const bool notification = notify.has_value() || notification_received;
    if (notify) {
        last_error_ = "sent " + describe(notify->code, notify->subcode);
        if (reason.empty()) reason = last_error_;
        out.push_back(std::move(*notify));
    } else if (!reason.empty()) {
        last_error_ = reason;
    }
    out.push_back(CloseTcp{});
    out.push_back(CancelTimer{Timer::kConnectRetry});
    out.push_back(CancelTimer{Timer::kHold});
    out.push_back(CancelTimer{Timer::kKeepalive});
    if (state_ == State::kEstablished) out.push_back(SessionDown{reason, notification});
    state_ = State::kIdle;
    peer_open_.reset();
    hold_ = seconds{0};
    keepalive_ = seconds{0};
    if (backoff && started_) {
        ++failures_;
        out.push_back(ArmTimer{Timer::kIdleHold, idle_hold_delay()});
    }
}

milliseconds Fsm::idle_hold_delay() {
    // 1 s, 2 s, 4 s ... up to kMaxIdleHold: RFC 4271 §8.1.1 leaves the damping method open.
    const unsigned shift = std::min(failures_ == 0 ? 0U : failures_ - 1, 7U);
    const milliseconds d = std::min<milliseconds>(kFirstIdleHold * (1U << shift), kMaxIdleHold);
    return jittered(d);
}

milliseconds Fsm::jittered(milliseconds d) {
    // RFC 4271 §10: ConnectRetry and friends are multiplied by a random factor in [0.75, 1.0].
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    const auto permille = 750 + static_cast<std::int64_t>(rng_ % 251);
    return milliseconds{d.count() * permille / 1000};
}

}  // namespace kroute::bgp
