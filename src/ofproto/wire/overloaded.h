// overloaded.h - the usual std::visit helper: a set of lambdas as one visitor.
#pragma once

namespace dps::ofproto {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace dps::ofproto
