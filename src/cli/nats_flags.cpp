#include "cli/nats_flags.hpp"

#include "cli/header_flags.hpp"
#include "core/template.hpp"
#include "nats/codec.hpp"

namespace lt {

namespace {

void need_nats(Flags& f, const Options& o, const char* name) {
  if (f.given(name) && o.sink != "nats")
    throw UsageError{fmt::format("{}: only with --sink nats", name)};
}

}  // namespace

void add_nats_flags(Flags& f) {
  f.value("--subject", "TEMPLATE",
          "nats: subject, {device} and {rank} expand [load-tester.{device}]");
  f.value("--nats-mode", "MODE",
          "nats: pub (confirmed by PING/PONG), request (round trips) or e2e (publish, "
          "--subscribers receive) [pub]");
  f.value("--responders", "N",
          "nats request: responder connections inside the tool; 0 = an existing service "
          "answers [0]");
  f.value("--ping-interval", "DURATION",
          "nats: PING each connection this often to confirm what it sent [1s]");
}

void validate_nats(Flags& f, Options& o) {
  for (const char* name : {"--subject", "--nats-mode", "--responders", "--ping-interval"})
    need_nats(f, o, name);
  if (o.sink != "nats") return;
  NatsOptions& n = o.nats;
  std::string mode;
  f.choice("--nats-mode", mode, {"pub", "request", "e2e"}, "mode");
  if (mode == "request") n.mode = NatsMode::Request;
  if (mode == "e2e") n.mode = NatsMode::E2e;
  if (f.given("--subject")) n.subject = f.raw("--subject");
  std::string why;
  const auto subject = NameTemplate::parse(n.subject, why);
  if (!subject) throw UsageError{fmt::format("--subject: {}, got \"{}\"", why, n.subject)};
  if (auto bad = nats::check_subject(subject->expand(0, 0), false); !bad.empty())
    throw UsageError{fmt::format("--subject: {}, got \"{}\"", bad, n.subject)};
  HeaderSet headers = read_headers(f);
  n.headers = std::move(headers.wire);
  n.shown_headers = std::move(headers.shown);
  n.header_file = std::move(headers.file);
  f.count("--responders", n.responders, 0, 100'000);
  if (f.given("--responders") && n.mode != NatsMode::Request)
    throw UsageError{"--responders: only with --nats-mode request"};
  if (f.given("--subscribers") && n.mode != NatsMode::E2e)
    throw UsageError{"--subscribers: with --sink nats only in --nats-mode e2e"};
  if (n.mode == NatsMode::E2e && !f.given("--subscribers")) o.subscribers = 1;
  if (n.mode == NatsMode::E2e && o.subscribers == 0)
    throw UsageError{"--subscribers: --nats-mode e2e needs at least 1, got \"0\""};
  // Each worker's subscribers cover its own devices' subjects, as with MQTT.
  if (o.subscribers > 1 && !subject->uses_device())
    throw UsageError{fmt::format(
        "--subscribers: more than one needs {{device}} in --subject (each subscriber takes its "
        "share of the devices' subjects), got \"{}\"",
        n.subject)};
  if (o.subscribers > 0 && !subject->uses_device() &&
      !(f.given("--threads") && f.raw("--threads") == "1"))
    throw UsageError{fmt::format(
        "--subscribers: a --subject without {{device}} needs --threads 1 (subscribers are per "
        "worker), got \"{}\"",
        n.subject)};
  f.duration("--ping-interval", n.ping_interval, 10 * kMilli, 3600 * kSecond);
  if (o.echo) throw UsageError{"--echo: not used by --sink nats (use --nats-mode request or e2e)"};
}

std::string describe_nats(const Options& o) {
  if (o.sink != "nats") return "";
  const NatsOptions& n = o.nats;
  std::string s = fmt::format(" --nats-mode={} {} --ping-interval={}", nats_mode_name(n.mode),
                              shell_word("--subject=" + n.subject), format_exact(n.ping_interval));
  if (n.responders) s += fmt::format(" --responders={}", n.responders);
  for (const auto& h : n.shown_headers) s += " " + shell_word("--header=" + h);
  if (!n.header_file.empty()) s += " " + shell_word("--header-file=" + n.header_file);
  return s;
}

}  // namespace lt
