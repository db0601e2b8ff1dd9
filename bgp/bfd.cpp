#include "bgp/bfd.hpp"

#include <algorithm>

#include "bgp/wire.hpp"

namespace kroute::bgp::bfd {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// §4.1 flag bits in the second octet, after the two State bits.
constexpr std::uint8_t kFlagPoll = 0x20;
constexpr std::uint8_t kFlagFinal = 0x10;
constexpr std::uint8_t kFlagControlPlaneIndependent = 0x08;
constexpr std::uint8_t kFlagAuth = 0x04;
constexpr std::uint8_t kFlagDemand = 0x02;
constexpr std::uint8_t kFlagMultipoint = 0x01;

// The interval fields are 32-bit microseconds; a longer configured value is clamped, not wrapped.
std::uint32_t wire_interval(microseconds d) {
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(d.count(), 0, 0xffffffffLL));
}

Unexpected<PacketDecodeError> fail(PacketError e, std::string detail) {
    return unexpected(PacketDecodeError{e, std::move(detail)});
}

}  // namespace

std::string_view to_string(State s) noexcept {
    switch (s) {
        case State::kAdminDown: return "AdminDown";
        case State::kDown: return "Down";
        case State::kInit: return "Init";
        case State::kUp: return "Up";
    }
    return "Unknown";
}

std::string to_string(Diag d) {
    switch (d) {
        case Diag::kNone: return "No Diagnostic";
        case Diag::kControlDetectionTimeExpired: return "Control Detection Time Expired";
        case Diag::kEchoFunctionFailed: return "Echo Function Failed";
        case Diag::kNeighborSignaledSessionDown: return "Neighbor Signaled Session Down";
        case Diag::kForwardingPlaneReset: return "Forwarding Plane Reset";
        case Diag::kPathDown: return "Path Down";
        case Diag::kConcatenatedPathDown: return "Concatenated Path Down";
        case Diag::kAdministrativelyDown: return "Administratively Down";
        case Diag::kReverseConcatenatedPathDown: return "Reverse Concatenated Path Down";
    }
    return "diag " + std::to_string(static_cast<unsigned>(d));
}

std::string_view to_string(PacketError e) noexcept {
    switch (e) {
        case PacketError::kTruncated: return "truncated";
        case PacketError::kBadVersion: return "bad version";
        case PacketError::kLengthTooShort: return "length too short";
        case PacketError::kLengthBeyondPayload: return "length beyond payload";
        case PacketError::kZeroDetectMult: return "zero Detect Mult";
        case PacketError::kMultipoint: return "multipoint bit set";
        case PacketError::kZeroMyDiscriminator: return "zero My Discriminator";
        case PacketError::kZeroYourDiscriminatorNotDown: return "zero Your Discriminator while not Down";
        case PacketError::kPollAndFinal: return "Poll and Final both set";
        case PacketError::kBadAuthSection: return "bad authentication section";
        case PacketError::kAuthenticationNotSupported: return "authentication not supported";
    }
    return "unknown";
}

std::string_view to_string(Timer t) noexcept {
    switch (t) {
        case Timer::kTransmit: return "Transmit";
        case Timer::kDetect: return "Detect";
    }
    return "Unknown";
}

// ---- Codec (§4.1) ----

Bytes encode(const ControlPacket& p) {
    Bytes out;
    out.reserve(kMinLength + (p.auth ? 2 + p.auth->data.size() : 0));
    Writer w{out};
    w.u8(static_cast<std::uint8_t>((p.version & 0x07) << 5 | (static_cast<std::uint8_t>(p.diag) & 0x1f)));
    std::uint8_t flags = static_cast<std::uint8_t>((static_cast<std::uint8_t>(p.state) & 0x03) << 6);
    if (p.poll) flags |= kFlagPoll;
    if (p.final) flags |= kFlagFinal;
    if (p.control_plane_independent) flags |= kFlagControlPlaneIndependent;
    if (p.auth) flags |= kFlagAuth;
    if (p.demand) flags |= kFlagDemand;
    if (p.multipoint) flags |= kFlagMultipoint;
    w.u8(flags);
    w.u8(p.detect_mult);
    const auto length = w.placeholder_u8();
    w.u32(p.my_discriminator);
    w.u32(p.your_discriminator);
    w.u32(wire_interval(p.desired_min_tx));
    w.u32(wire_interval(p.required_min_rx));
    w.u32(wire_interval(p.required_min_echo_rx));
    if (p.auth) {
        w.u8(p.auth->type);
        // Auth Len counts the type and length octets too (§4.1); an oversized section is cut at
        // what one octet of Length can measure.
        const std::size_t room = 255 - kMinLength - 2;
        const std::size_t n = std::min(p.auth->data.size(), room);
        w.u8(static_cast<std::uint8_t>(n + 2));
        w.bytes(std::span<const std::uint8_t>{p.auth->data.data(), n});
    }
    w.patch_u8(length, static_cast<std::uint8_t>(out.size()));
    return out;
}

Expected<ControlPacket, PacketDecodeError> decode(std::span<const std::uint8_t> payload) {
    Reader r{payload};
    auto b0 = r.u8();
    auto b1 = r.u8();
    auto mult = r.u8();
    auto len = r.u8();
    if (!len) return fail(PacketError::kTruncated, std::to_string(payload.size()) + " bytes");
    ControlPacket p;
    p.version = static_cast<std::uint8_t>(*b0 >> 5);
    p.diag = static_cast<Diag>(*b0 & 0x1f);
    p.state = static_cast<State>(*b1 >> 6);
    p.poll = (*b1 & kFlagPoll) != 0;
    p.final = (*b1 & kFlagFinal) != 0;
    p.control_plane_independent = (*b1 & kFlagControlPlaneIndependent) != 0;
    const bool auth = (*b1 & kFlagAuth) != 0;
    p.demand = (*b1 & kFlagDemand) != 0;
    p.multipoint = (*b1 & kFlagMultipoint) != 0;
    p.detect_mult = *mult;
    // §6.8.6, in its order.
    if (p.version != kVersion) return fail(PacketError::kBadVersion, "version " + std::to_string(p.version));
    const std::size_t length = *len;
    if (length < (auth ? kMinLengthWithAuth : kMinLength)) {
        return fail(PacketError::kLengthTooShort, "length " + std::to_string(length));
    }
    if (length > payload.size()) {
        return fail(PacketError::kLengthBeyondPayload,
                    "length " + std::to_string(length) + ", payload " + std::to_string(payload.size()));
    }
    // Bytes after Length (UDP padding) are not the packet's.
    Reader body{payload.subspan(4, length - 4)};
    p.my_discriminator = *body.u32();
    p.your_discriminator = *body.u32();
    p.desired_min_tx = microseconds{*body.u32()};
    p.required_min_rx = microseconds{*body.u32()};
    p.required_min_echo_rx = microseconds{*body.u32()};
    if (p.detect_mult == 0) return fail(PacketError::kZeroDetectMult, "");
    if (p.multipoint) return fail(PacketError::kMultipoint, "");
    if (p.my_discriminator == 0) return fail(PacketError::kZeroMyDiscriminator, "");
    if (p.your_discriminator == 0 && p.state != State::kDown && p.state != State::kAdminDown) {
        return fail(PacketError::kZeroYourDiscriminatorNotDown, std::string{to_string(p.state)});
    }
    if (p.poll && p.final) return fail(PacketError::kPollAndFinal, "");  // §6.5
    if (auth) {
        auto type = body.u8();
        auto auth_len = body.u8();
        if (!auth_len || *auth_len < 2 || *auth_len - 2U > body.remaining()) {
            return fail(PacketError::kBadAuthSection, "Auth Len beyond Length");
        }
        AuthSection a{*type, {}};
        auto data = body.bytes(*auth_len - 2U);
        a.data.assign(data->begin(), data->end());
        // §4.2-§4.4: each type has its own Auth Len (simple password: key id + 1..16 octets).
        const unsigned n = *auth_len;
        bool ok = true;
        switch (static_cast<AuthType>(*type)) {
            case AuthType::kSimplePassword: ok = n >= 4 && n <= 19; break;
            case AuthType::kKeyedMd5:
            case AuthType::kMeticulousKeyedMd5: ok = n == 24; break;
            case AuthType::kKeyedSha1:
            case AuthType::kMeticulousKeyedSha1: ok = n == 28; break;
            default: break;
        }
        if (!ok) {
            return fail(PacketError::kBadAuthSection,
                        "Auth Type " + std::to_string(*type) + " with Auth Len " + std::to_string(n));
        }
        p.auth = std::move(a);
        // §6.8.6: "If the A bit is set and no authentication is in use (bfd.AuthType is zero), the
        // packet MUST be discarded." We never use authentication.
        return fail(PacketError::kAuthenticationNotSupported, "Auth Type " + std::to_string(*type));
    }
    return p;
}

// ---- Fsm (§6.2, §6.8) ----

Fsm::Fsm(SessionConfig cfg)
    : cfg_{cfg}, rng_{cfg.jitter_seed == 0 ? 0x9e3779b97f4a7c15ULL : cfg.jitter_seed} {
    if (cfg_.detect_mult == 0) cfg_.detect_mult = 1;  // §6.8.1: never zero
    if (cfg_.desired_min_tx.count() <= 0) cfg_.desired_min_tx = microseconds{1};  // §4.1: zero is reserved
    tx_in_use_ = advertised_min_tx();
    rx_in_use_ = cfg_.required_min_rx;
}

microseconds Fsm::advertised_min_tx() const noexcept {
    // §6.8.3: "When bfd.SessionState is not Up, the system MUST set bfd.DesiredMinTxInterval to a
    // value of not less than one second" - the slow rate while the session is coming up.
    return state_ == State::kUp ? cfg_.desired_min_tx : std::max(cfg_.desired_min_tx, kSlowTxInterval);
}

microseconds Fsm::transmit_interval() const noexcept { return std::max(tx_in_use_, remote_min_rx_); }

microseconds Fsm::detection_time() const noexcept {
    return remote_detect_mult_ * std::max(rx_in_use_, remote_desired_tx_);
}

ControlPacket Fsm::make_packet() const {
    ControlPacket p;
    p.diag = local_diag_;
    p.state = state_;
    p.detect_mult = cfg_.detect_mult;
    p.my_discriminator = cfg_.local_discriminator;
    p.your_discriminator = remote_discr_;
    p.desired_min_tx = advertised_min_tx();
    p.required_min_rx = cfg_.required_min_rx;
    p.required_min_echo_rx = microseconds{0};  // §6.8.9: we do not support the Echo function
    return p;
}

bool Fsm::may_transmit() const noexcept {
    if (state_ == State::kAdminDown && !started_) return false;  // never enabled: silent
    if (cfg_.passive && !heard_from_peer_) return false;          // §6.1 passive role
    if (remote_min_rx_.count() == 0) return false;                // §6.8.7: the peer wants nothing
    // §6.8.7: Demand mode active on the remote system, and no Poll Sequence of ours going on.
    if (remote_demand_ && state_ == State::kUp && remote_state_ == State::kUp && !polling_) return false;
    return true;
}

std::vector<Action> Fsm::handle(const Event& event) {
    std::vector<Action> out;
    std::visit(Overloaded{
                   [&](const AdminUp&) {
                       if (state_ != State::kAdminDown) return;
                       started_ = true;
                       heard_from_peer_ = false;
                       remote_discr_ = 0;
                       set_state(State::kDown, Diag::kNone, out);
                       send_now(out);
                   },
                   [&](const AdminDown&) {
                       if (state_ == State::kAdminDown) return;
                       // §6.8.16: Diag 7, and keep telling the peer (at the slow rate) until the
                       // owner drops the session.
                       set_state(State::kAdminDown, Diag::kAdministrativelyDown, out);
                       out.push_back(CancelTimer{Timer::kDetect});
                       send_now(out);
                   },
                   [&](const PacketReceived& e) { receive(e.packet, out); },
                   [&](const TimerExpired& e) {
                       if (e.timer == Timer::kTransmit) {
                           tx_armed_ = false;
                           if (!may_transmit()) return;
                           ControlPacket p = make_packet();
                           p.poll = polling_;  // §6.5: every packet of a Poll Sequence has P set
                           out.push_back(SendPacket{p});
                           arm_transmit(out);
                           return;
                       }
                       // §6.8.1 bfd.RemoteDiscr: zero once a Detection Time passes in silence.
                       remote_discr_ = 0;
                       // §6.8.4: Init or Up without a packet for a Detection Time goes Down, Diag 1.
                       if (state_ == State::kInit || state_ == State::kUp) {
                           set_state(State::kDown, Diag::kControlDetectionTimeExpired, out);
                           send_now(out);
                       }
                   },
                   [&](const ChangeIntervals& e) {
                       const auto tx = e.desired_min_tx.count() > 0 ? e.desired_min_tx : microseconds{1};
                       if (tx == cfg_.desired_min_tx && e.required_min_rx == cfg_.required_min_rx) return;
                       cfg_.desired_min_tx = tx;
                       cfg_.required_min_rx = e.required_min_rx;
                       if (state_ != State::kUp) {
                           tx_in_use_ = advertised_min_tx();
                           rx_in_use_ = cfg_.required_min_rx;
                           return;
                       }
                       // §6.8.3: a slower transmission rate waits for the end of the Poll
                       // Sequence, and so does a shorter Detection Time; the other way round is
                       // safe at once.
                       tx_in_use_ = std::min(tx_in_use_, advertised_min_tx());
                       rx_in_use_ = std::max(rx_in_use_, cfg_.required_min_rx);
                       start_poll(out);
                   },
               },
               event);
    return out;
}

void Fsm::receive(const ControlPacket& p, std::vector<Action>& out) {
    // §6.8.6: the owner found this session by Your Discriminator or, when it is zero, by address.
    if (p.your_discriminator != 0 && p.your_discriminator != cfg_.local_discriminator) return;
    if (p.auth) return;  // decode() refuses these; an Fsm fed by hand does too
    remote_discr_ = p.my_discriminator;
    remote_state_ = p.state;
    remote_demand_ = p.demand;
    remote_min_rx_ = p.required_min_rx;
    remote_desired_tx_ = p.desired_min_tx;
    remote_detect_mult_ = p.detect_mult;
    if (p.final && polling_) {
        // §6.5: the Poll Sequence is over; the new intervals are in use from now on (§6.8.3).
        polling_ = false;
        tx_in_use_ = advertised_min_tx();
        rx_in_use_ = cfg_.required_min_rx;
    }
    if (state_ == State::kAdminDown) return;
    heard_from_peer_ = true;
    const State before = state_;
    if (p.state == State::kAdminDown) {
        if (state_ != State::kDown) set_state(State::kDown, Diag::kNeighborSignaledSessionDown, out);
    } else {
        switch (state_) {
            case State::kDown:  // the three-way handshake (§6.2)
                if (p.state == State::kDown) {
                    set_state(State::kInit, Diag::kNone, out);
                } else if (p.state == State::kInit) {
                    set_state(State::kUp, Diag::kNone, out);
                }
                break;
            case State::kInit:
                if (p.state == State::kInit || p.state == State::kUp) set_state(State::kUp, Diag::kNone, out);
                break;
            case State::kUp:
                if (p.state == State::kDown) set_state(State::kDown, Diag::kNeighborSignaledSessionDown, out);
                break;
            case State::kAdminDown: break;
        }
    }
    // §6.8.4: this packet counts for the Detection Time.
    if (const auto t = detection_time(); t.count() > 0) {
        out.push_back(ArmTimer{Timer::kDetect, t});
    } else {
        out.push_back(CancelTimer{Timer::kDetect});  // we asked for no packets (Required Min RX 0)
    }
    if (p.poll) {
        // §6.8.7: answer a Poll with Final "without respect to the transmission timer"; it also
        // carries a state change, if any.
        send_now(out, true);
    } else if (state_ != before || (!tx_armed_ && may_transmit())) {
        // A new state goes out at once rather than up to a (slow) interval later; and a passive
        // session, or one the peer had told to be silent, starts transmitting.
        send_now(out);
    }
}

void Fsm::set_state(State to, Diag diag, std::vector<Action>& out) {
    const State from = state_;
    if (from == to) return;
    state_ = to;
    local_diag_ = diag;
    out.push_back(StateChanged{from, to, diag});
    if (from == State::kUp) {
        polling_ = false;  // not Up: the new intervals apply at once (§6.8.3)
        tx_in_use_ = advertised_min_tx();
        rx_in_use_ = cfg_.required_min_rx;
    } else if (to == State::kUp) {
        // Up: bfd.DesiredMinTxInterval drops from the slow one second to the configured value,
        // and "if bfd.DesiredMinTxInterval is changed ... a Poll Sequence MUST be initiated".
        const auto adv = advertised_min_tx();
        if (adv != tx_in_use_) {
            tx_in_use_ = std::min(tx_in_use_, adv);
            polling_ = true;
        }
    } else {
        tx_in_use_ = advertised_min_tx();
    }
}

void Fsm::start_poll(std::vector<Action>& out) {
    polling_ = true;
    send_now(out);
}

void Fsm::send_now(std::vector<Action>& out, bool final) {
    if (final || may_transmit()) {
        ControlPacket p = make_packet();
        p.final = final;
        p.poll = polling_ && !final;  // §6.5: never both in one packet
        out.push_back(SendPacket{p});
    }
    arm_transmit(out);
}

void Fsm::arm_transmit(std::vector<Action>& out) {
    if (may_transmit()) {
        out.push_back(ArmTimer{Timer::kTransmit, jittered(transmit_interval())});
        tx_armed_ = true;
    } else if (tx_armed_) {
        out.push_back(CancelTimer{Timer::kTransmit});
        tx_armed_ = false;
    }
}

microseconds Fsm::jittered(microseconds d) {
    // §6.8.7: each interval is reduced by a random 0-25%; with bfd.DetectMult 1 the interval is
    // between 75% and 90% of the nominal one, so that one late packet cannot end the session.
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    const std::int64_t span = cfg_.detect_mult == 1 ? 151 : 251;
    const auto permille = 750 + static_cast<std::int64_t>(rng_ % static_cast<std::uint64_t>(span));
    return microseconds{d.count() * permille / 1000};
}

}  // namespace kroute::bgp::bfd
