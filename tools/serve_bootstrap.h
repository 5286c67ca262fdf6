#pragma once
// What `yiwang serve` writes into its data dir for the people who start it: the bootstrap
// admin token on a first start and, with --demo, one operator per role and the demo fleet's
// device token, each in a file of mode 0600, and the banner that names them.

#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "base/status.h"
#include "store/event_store.h"
#include "web/auth.h"

namespace yiwang::tools {

// Writes `content` to `path` with mode 0600, atomically (a temp file, fsynced, renamed).
Status WriteSecretFile(const std::filesystem::path& path, const std::string& content);

// On the first start on an empty data dir: an admin token, written to DIR/bootstrap-admin.token.
Status EnsureBootstrapAdminToken(store::EventStore* store, const std::string& data_dir,
                                 spdlog::logger& log);

// The demo fleet's device token: reused from DIR/demo-device.token while it is valid, else
// created (prefix "sim-").
Status DemoDeviceToken(store::EventStore* store, const std::string& data_dir, std::string* token);

// Ensures one demo operator per role. Passwords are generated when a user is created and kept
// in DIR/demo-users.txt ("name password" per line), so a restart on the same data dir shows the
// same credentials. *lines gets "role  name  password" lines for the banner.
Status EnsureDemoUsers(web::Accounts* accounts, const std::string& data_dir,
                       std::vector<std::string>* lines);

// What a newcomer running `make run` needs, on stdout, apart from the log.
void PrintDemoBanner(const std::string& url, const std::string& data_dir,
                     const std::vector<std::string>& demo_users);

}  // namespace yiwang::tools
