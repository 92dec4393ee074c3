// load-tester: constant-rate load over many connections, with latency measured from the
// intended send time. main() only dispatches and turns usage errors into exit code 2.
#include <fmt/format.h>

#include <csignal>
#include <exception>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "engine/run.hpp"
#include "report/atomic_file.hpp"
#include "results/compare.hpp"
#include "results/merge.hpp"
#include "serve/serve.hpp"

int main(int argc, char** argv) {
  // A closed stdout (| head) must not kill the run before its result files are written.
  std::signal(SIGPIPE, SIG_IGN);
  lt::install_crash_cleanup();
  try {
    // Commands on result files take no run options.
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "merge" || command == "compare") {
      const std::vector<std::string> args(argv + 2, argv + argc);
      return command == "merge" ? lt::run_merge(args, stdout) : lt::run_compare(args, stdout);
    }
    std::string text;
    const lt::Options options = lt::parse_options(argc, argv, &text);
    switch (options.command) {
      case lt::Command::Help:
      case lt::Command::Version:
        fmt::print("{}", text);
        return 0;
      case lt::Command::Serve:
        return lt::run_serve(options);
      case lt::Command::Run:
        return lt::run_load(options);
    }
  } catch (const lt::UsageError& e) {
    fmt::print(stderr, "load-tester: {}\n", e.message);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "load-tester: fatal: {}\n", e.what());
    return 1;
  }
  return 0;
}
