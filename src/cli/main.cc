// dpsctl - configure and inspect dpswitchd over its JSON-RPC socket.
// See commands.h for the command model and docs/jsonrpc.md for the wire side.
#include "commands.h"

#include <iostream>

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return dps::cli::run_dpsctl(args, std::cout, std::cerr);
}
