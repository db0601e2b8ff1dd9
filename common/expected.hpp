// Expected<T, E>: the shape of C++23's std::expected, which g++ 12's C++20 lacks. Replace with
// std::expected once the toolchain has it; the interface is kept identical on purpose.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace kroute {

template <class E>
class Unexpected {
public:
    explicit Unexpected(E e) : error_{std::move(e)} {}
    [[nodiscard]] const E& error() const& noexcept { return error_; }
    [[nodiscard]] E&& error() && noexcept { return std::move(error_); }

private:
    E error_;
};

template <class E>
[[nodiscard]] Unexpected<std::decay_t<E>> unexpected(E&& e) {
    return Unexpected<std::decay_t<E>>(std::forward<E>(e));
}

template <class T, class E>
class [[nodiscard]] Expected {
public:
    using value_type = T;
    using error_type = E;

    template <class U = T, std::enable_if_t<std::is_constructible_v<T, U&&>, int> = 0>
    Expected(U&& v) : v_{std::in_place_index<0>, std::forward<U>(v)} {}  // NOLINT(google-explicit-constructor)
    template <class G>
    Expected(Unexpected<G> u) : v_{std::in_place_index<1>, std::move(u).error()} {}  // NOLINT

    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & { assert(has_value()); return std::get<0>(v_); }
    [[nodiscard]] const T& value() const& { assert(has_value()); return std::get<0>(v_); }
    [[nodiscard]] T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
    [[nodiscard]] T& operator*() & { return value(); }
    [[nodiscard]] const T& operator*() const& { return value(); }
    [[nodiscard]] T&& operator*() && { return std::move(*this).value(); }
    [[nodiscard]] T* operator->() { return &value(); }
    [[nodiscard]] const T* operator->() const { return &value(); }

    [[nodiscard]] E& error() & { assert(!has_value()); return std::get<1>(v_); }
    [[nodiscard]] const E& error() const& { assert(!has_value()); return std::get<1>(v_); }
    [[nodiscard]] E&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }

    template <class U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

private:
    std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
public:
    Expected() = default;
    template <class G>
    Expected(Unexpected<G> u) : error_{std::move(u).error()}, ok_{false} {}  // NOLINT

    [[nodiscard]] bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    void value() const { assert(ok_); }
    [[nodiscard]] const E& error() const& { assert(!ok_); return error_; }
    [[nodiscard]] E&& error() && { assert(!ok_); return std::move(error_); }

private:
    E error_{};
    bool ok_ = true;
};

}  // namespace kroute
