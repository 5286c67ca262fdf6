// `yiwang device-tokens list|create|revoke|rotate`: device tokens of a running server, through
// its admin API (tools/client/provision.h), so that a revocation also closes the connections
// open with the token, which only the running server can do. The admin token is read from a
// file: by default the bootstrap token the server wrote into its data dir.
//
// Exit codes: 0 done; 1 refused (admin token refused, no token with that id, a name in use);
// 2 cannot run (bad options, no admin token file, server unreachable).

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/file.h"
#include "tools/client/endpoint.h"
#include "tools/client/provision.h"
#include "tools/commands.h"

namespace yiwang::tools {

namespace {

struct DeviceTokenCliOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string admin_token_file = std::string("./data/") + client::kAdminTokenFile;
  std::string name, prefix, id;
  std::vector<std::string> districts;
};

enum class Action { kList, kCreate, kRevoke, kRotate };

int Fail(const Status& s) {
  std::fprintf(stderr, "device-tokens: %s\n", s.ToString().c_str());
  return s.code() == Status::Code::kIOError || s.code() == Status::Code::kInvalidArgument ? 2 : 1;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "*" : out;
}

int Run(Action action, const DeviceTokenCliOptions& o) {
  client::Endpoint server;
  if (Status s = client::ParseUrl(o.url, &server); !s.ok()) return Fail(s);
  std::string admin;
  if (Status s = ReadFirstLine(o.admin_token_file, &admin); !s.ok())
    return Fail(Status::InvalidArgument("admin token: " + s.ToString()));
  std::string token, id;
  switch (action) {
    case Action::kList: {
      std::vector<client::DeviceTokenInfo> tokens;
      if (Status s = client::ListDeviceTokens(server, admin, &tokens); !s.ok()) return Fail(s);
      std::printf("%-16s  %-24s  %-16s  %-20s  %s\n", "ID", "NAME", "PREFIX", "DISTRICTS",
                  "CREATED");
      for (const auto& t : tokens)
        std::printf("%-16s  %-24s  %-16s  %-20s  %s\n", t.id.c_str(), t.name.c_str(),
                    t.device_prefix.empty() ? "*" : t.device_prefix.c_str(),
                    Join(t.districts).c_str(), t.created_at.c_str());
      return 0;
    }
    case Action::kCreate:
      if (Status s = client::ProvisionDeviceToken(server, admin, o.name, o.prefix, &token,
                                                  o.districts, &id);
          !s.ok())
        return Fail(s);
      std::fprintf(stderr, "device token '%s' created, id %s (shown once):\n", o.name.c_str(),
                   id.c_str());
      std::printf("%s\n", token.c_str());
      return 0;
    case Action::kRevoke:
      if (Status s = client::RevokeDeviceToken(server, admin, o.id); !s.ok()) return Fail(s);
      std::fprintf(stderr, "device token %s revoked; its connections are closed\n", o.id.c_str());
      return 0;
    case Action::kRotate:
      if (Status s = client::RotateDeviceToken(server, admin, o.id, &token); !s.ok())
        return Fail(s);
      std::fprintf(stderr, "device token %s rotated; the old secret no longer works (new one "
                   "shown once):\n", o.id.c_str());
      std::printf("%s\n", token.c_str());
      return 0;
  }
  return 2;
}

}  // namespace

CLI::App* AddDeviceTokensCommand(CLI::App& app, int* exit_code) {
  auto* d = app.add_subcommand(
      "device-tokens", "Device tokens of a running server (admin API): list, create, revoke, rotate");
  d->require_subcommand(1);
  d->fallthrough();  // --url and --admin-token-file also after the action
  auto o = std::make_shared<DeviceTokenCliOptions>();
  d->add_option("--url", o->url, "Server URL (a ready file's content works)")
      ->capture_default_str();
  d->add_option("--admin-token-file", o->admin_token_file, "Read the admin token from this file")
      ->capture_default_str();
  auto bind = [o, exit_code](CLI::App* sub, Action action) {
    sub->callback([o, exit_code, action] { *exit_code = Run(action, *o); });
  };
  bind(d->add_subcommand("list", "List the device tokens (never their secrets)"), Action::kList);
  auto* create = d->add_subcommand("create", "Create a token; prints it once on stdout");
  create->add_option("NAME", o->name, "Its name (unique)")->required();
  create->add_option("--prefix", o->prefix, "The device ids it may send for (\"\": any)")
      ->required();
  create->add_option("--district", o->districts,
                     "A district code its events may name or lie in (repeat; none: any)");
  bind(create, Action::kCreate);
  auto* revoke = d->add_subcommand("revoke", "Revoke a token: it stops working at once and its "
                                             "open connections are closed");
  revoke->add_option("ID", o->id, "The token's id (see list)")->required();
  bind(revoke, Action::kRevoke);
  auto* rotate = d->add_subcommand(
      "rotate", "A new secret for a token (printed once); the old one stops working");
  rotate->add_option("ID", o->id, "The token's id (see list)")->required();
  bind(rotate, Action::kRotate);
  return d;
}

}  // namespace yiwang::tools
