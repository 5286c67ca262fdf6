// `yiwang cluster init`: puts in place what a cluster's gateways and cores expect in the log
// (docs/cluster.md): the events stream, the device-token bucket, and a bootstrap admin token for
// the cores' admin API. Idempotent: run again it changes nothing and says so. Also registers
// `cluster up` (tools/cluster_up.cc).

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/text.h"
#include "base/time.h"
#include "ingest/log_routing.h"
#include "ingest/token_directory.h"
#include "store/event_store.h"
#include "store/log/jetstream.h"
#include "store/log/retry.h"
#include "tools/cluster.h"
#include "tools/commands.h"
#include "tools/serve_bootstrap.h"
#include "tools/serve_process.h"
#include "web/tokens.h"

namespace yiwang::tools {

namespace {

using yiwang::v1::TokenRecord;

// The name of the admin token `cluster init` mints.
constexpr char kBootstrapAdminName[] = "bootstrap-admin";
// A fresh cluster elects its leaders and places replicas for a few seconds.
constexpr std::chrono::seconds kElectionWait{30};

// Retries `attempt` while it answers Unavailable (a cluster still electing), for kElectionWait.
template <typename F>
Status UntilAvailable(F attempt) {
  return log::RetryWhileUnavailable(attempt, kElectionWait);
}

// The events stream; says whether it was created or found as it should be.
Status EnsureEventsStream(log::JetStreamLog* journal, int replicas) {
  const log::StreamSpec spec = ingest::EventsStreamSpec(replicas);
  uint64_t last = 0;
  std::string leader;
  const bool existed = journal->StreamState(spec.name, &last, &leader).ok();
  Status s = UntilAvailable([&] { return journal->EnsureStream(spec); });
  if (!s.ok()) return s;
  std::cout << fmt::format("stream {}: {}\n", spec.name,
                           existed ? fmt::format("unchanged ({} messages)", last)
                                   : fmt::format("created ({} replicas)", replicas));
  return Status::Ok();
}

// The bootstrap admin token in force, if any: its hash and record.
std::optional<std::pair<std::string, TokenRecord>> CurrentBootstrapAdmin(
    const ingest::TokenDirectory& tokens) {
  std::optional<std::pair<std::string, TokenRecord>> found;
  tokens.ForEach([&](const std::string& hash, const TokenRecord& r) {
    if (r.kind() == yiwang::v1::TOKEN_KIND_ADMIN && r.name() == kBootstrapAdminName &&
        !r.revoked())
      found.emplace(hash, r);
  });
  return found;
}

// Mints a bootstrap admin token, writes its record, then revokes `previous` (if any), then
// writes the secret to `out`.
Status MintBootstrapAdmin(ingest::TokenDirectory* tokens, const std::string& out,
                          const std::optional<std::pair<std::string, TokenRecord>>& previous) {
  std::string token;
  if (Status s = web::MintToken(yiwang::v1::TOKEN_KIND_ADMIN, &token); !s.ok()) return s;
  TokenRecord record;
  record.set_name(kBootstrapAdminName);
  record.set_kind(yiwang::v1::TOKEN_KIND_ADMIN);
  *record.mutable_created_at() = ToProtoTime(std::chrono::system_clock::now());
  // The file first: a token in force whose secret nobody has would lock the operator out.
  if (Status s = WriteSecretFile(out, token + "\n"); !s.ok()) return s;
  if (Status s = UntilAvailable([&] { return tokens->Put(store::TokenHash(token), record); });
      !s.ok())
    return s;
  if (previous) {
    TokenRecord revoked = previous->second;
    revoked.set_revoked(true);
    if (Status s = UntilAvailable([&] { return tokens->Put(previous->first, revoked); }); !s.ok())
      return s;
    std::cout << "previous bootstrap admin token revoked\n";
  }
  std::cout << fmt::format("bootstrap admin token written to {}\n", out);
  return Status::Ok();
}

}  // namespace

int RunClusterInit(const ClusterInitOptions& o) {
  spdlog::set_level(spdlog::level::warn);
  Status s;
  auto journal = ConnectLog(o.nats, "yiwang-cluster-init", &s);
  if (!journal) {
    std::cerr << "cannot reach " << o.nats << ": " << s.ToString() << "\n";
    return 1;
  }
  if (s = EnsureEventsStream(journal.get(), o.replicas); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  ingest::TokenDirectory::Options token_options;
  token_options.replicas = o.replicas;
  std::unique_ptr<ingest::TokenDirectory> tokens;
  s = UntilAvailable([&] {
    Status st;
    tokens = ingest::TokenDirectory::Open(journal.get(), token_options, Logger("tokens"), &st);
    return st;
  });
  if (!tokens || !tokens->WaitReady(kElectionWait)) {
    std::cerr << "token bucket: " << (s.ok() ? "not read in time" : s.ToString()) << "\n";
    return 1;
  }
  std::cout << fmt::format("bucket {}: {} records\n", token_options.bucket, tokens->size());
  const auto current = CurrentBootstrapAdmin(*tokens);
  if (current && !o.rotate_admin_token) {
    std::cout << "a bootstrap admin token is in force (its secret is where it was written); "
                 "nothing changed. --rotate-admin-token mints a new one and revokes it.\n";
    return 0;
  }
  if (o.admin_token_out.empty()) {
    std::cerr << "--admin-token-out FILE: where to write the new bootstrap admin token\n";
    return 2;
  }
  if (s = MintBootstrapAdmin(tokens.get(), o.admin_token_out, current); !s.ok()) {
    std::cerr << "bootstrap admin token: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}

CLI::App* AddClusterCommand(CLI::App& app, int* exit_code) {
  auto* cluster = app.add_subcommand("cluster", "Cluster mode (docs/cluster.md)");
  cluster->require_subcommand(1);
  auto opts = std::make_shared<ClusterInitOptions>();
  auto* init = cluster->add_subcommand(
      "init",
      "Create the log's stream and token bucket and a bootstrap admin token; run again it "
      "changes nothing");
  init->add_option("--nats", opts->nats, "The cluster's NATS servers: URL[,URL...]")->required();
  init->add_option("--replicas", opts->replicas, "Copies of each stream (3: a quorum of 2)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  init->add_option("--admin-token-out", opts->admin_token_out,
                   "Write a new bootstrap admin token here (mode 0600)");
  init->add_flag("--rotate-admin-token", opts->rotate_admin_token,
                 "Mint a new bootstrap admin token and revoke the one in force");
  init->callback([opts, exit_code] { *exit_code = RunClusterInit(*opts); });

  auto up_opts = std::make_shared<ClusterUpOptions>();
  auto* up = cluster->add_subcommand(
      "up", "Run a whole cluster on loopback with the demo fleet (`make cluster`)");
  up->add_option("--dir", up_opts->dir, "Store dirs, data dirs, logs and tokens")
      ->capture_default_str();
  up->add_option("--gateways", up_opts->gateways, "Gateways")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  up->add_option("--cores", up_opts->cores, "Cores")->check(CLI::Range(1, 8))->capture_default_str();
  up->add_option("--devices", up_opts->devices, "Simulated devices")->capture_default_str();
  up->add_option("--log-level", up_opts->log_level, "Of the servers")->capture_default_str();
  up->callback([up_opts, exit_code] { *exit_code = RunClusterUp(*up_opts); });
  return cluster;
}

}  // namespace yiwang::tools
