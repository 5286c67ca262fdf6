#include "tools/serve_bootstrap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "base/time.h"
#include "web/auth.h"
#include "web/tokens.h"

namespace yiwang::tools {

namespace {
constexpr char kDemoFleetToken[] = "demo-fleet";
}  // namespace

Status WriteSecretFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  // Created 0600 from the start: the token is never readable by others, not even briefly.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp.string() + ": " + std::strerror(errno));
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::IOError("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return Status::IOError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError("rename " + path.string() + ": " + ec.message());
  return Status::Ok();
}

Status DemoDeviceToken(store::EventStore* store, const std::string& data_dir, std::string* token) {
  const auto path = std::filesystem::path(data_dir) / "demo-device.token";
  std::ifstream in(path);
  yiwang::v1::TokenRecord rec;
  if (in && std::getline(in, *token) && store->LookupToken(*token, &rec).ok() && !rec.revoked())
    return Status::Ok();
  // The file is gone or its token revoked: a demo fleet token still stored (its secret lost
  // with the file) is rotated, keeping its id and the one name; else a new one is made.
  std::string old_hash;
  Status s = store->ScanTokens([&](std::string_view hash, const yiwang::v1::TokenRecord& r) {
    if (r.kind() != yiwang::v1::TOKEN_KIND_DEVICE || r.name() != kDemoFleetToken) return true;
    old_hash = hash;
    rec = r;
    return false;
  });
  if (!s.ok()) return s;
  if (old_hash.empty()) {
    s = web::CreateToken(store, yiwang::v1::TOKEN_KIND_DEVICE, kDemoFleetToken, "sim-", token);
  } else {
    s = web::MintToken(yiwang::v1::TOKEN_KIND_DEVICE, token);
    rec.set_id(store::TokenId(old_hash, rec));  // a record made before ids: its old hash's
    *rec.mutable_rotated_at() = ToProtoTime(std::chrono::system_clock::now());
    if (s.ok()) s = store->ReplaceToken(old_hash, *token, rec);
  }
  if (!s.ok()) return s;
  return WriteSecretFile(path, *token + "\n");
}

namespace {

// One operator per role for `serve --demo`. The department user works for 江北区城市管理局:
// the default routing sends manhole-cover alarms (category 0114 by default) and the fallback
// categories of 500105 there, and the demo fleet has devices in 江北区 (e.g.
// sim-septic-500105-0001).
struct DemoUser {
  const char* name;
  const char* display_name;
  yiwang::v1::Role role;
  const char* department;
  const char* district;
};

constexpr DemoUser kDemoUsers[] = {
    {"dispatcher", "指挥中心派遣员 (demo)", yiwang::v1::ROLE_DISPATCHER, "", ""},
    {"cgj-jiangbei", "江北区城市管理局 (demo)", yiwang::v1::ROLE_DEPARTMENT, "cgj-500105", "500105"},
    {"supervisor", "监督中心督查员 (demo)", yiwang::v1::ROLE_SUPERVISOR, "", ""},
    {"leader", "领导 (demo)", yiwang::v1::ROLE_LEADER, "", ""},
    {"admin", "系统管理员 (demo)", yiwang::v1::ROLE_ADMIN, "", ""},
};

}  // namespace

Status EnsureDemoUsers(web::Accounts* accounts, const std::string& data_dir,
                       std::vector<std::string>* lines) {
  const auto path = std::filesystem::path(data_dir) / "demo-users.txt";
  std::map<std::string, std::string> passwords;
  {
    std::ifstream in(path);
    std::string name, password;
    while (in >> name >> password) passwords[name] = password;
  }
  bool changed = false;
  for (const DemoUser& d : kDemoUsers) {
    web::NewUser u;
    u.name = d.name;
    u.display_name = d.display_name;
    u.role = d.role;
    u.department = d.department;
    if (*d.district) u.districts.push_back(d.district);
    // A user deleted by an admin comes back with the password the file remembers.
    if (auto it = passwords.find(d.name); it != passwords.end()) u.password = it->second;
    std::string generated;
    if (Status s = accounts->EnsureUser(u, &generated); !s.ok())
      return Status::InvalidArgument(fmt::format("demo user {}: {}", d.name, s.ToString()));
    if (!generated.empty()) {
      passwords[d.name] = generated;
      changed = true;
    }
    auto it = passwords.find(d.name);
    lines->push_back(fmt::format("{:<11} {:<13} {}", web::RoleApiName(d.role), d.name,
                                 it != passwords.end() ? it->second
                                                       : "(unknown: demo-users.txt is gone)"));
  }
  if (!changed) return Status::Ok();
  std::string content;
  for (const auto& [name, password] : passwords) content += name + " " + password + "\n";
  return WriteSecretFile(path, content);
}


Status EnsureBootstrapAdminToken(store::EventStore* store, const std::string& data_dir,
                                 spdlog::logger& log) {
  std::string bootstrapped;
  Status s = store->GetMeta("bootstrap_admin", &bootstrapped);
  if (s.code() != Status::Code::kNotFound) return s;
  std::string token;
  s = web::CreateToken(store, yiwang::v1::TOKEN_KIND_ADMIN, "bootstrap-admin", "", &token);
  if (s.ok())
    s = WriteSecretFile(std::filesystem::path(data_dir) / "bootstrap-admin.token", token + "\n");
  if (s.ok()) s = store->PutMeta("bootstrap_admin", "1");
  if (s.ok()) log.info("bootstrap admin token written to {}/bootstrap-admin.token", data_dir);
  return s;
}

void PrintDemoBanner(const std::string& url, const std::string& data_dir,
                     const std::vector<std::string>& demo_users) {
  std::string users;
  for (const auto& line : demo_users) users += "    " + line + "\n";
  std::printf(
      "\nYiwang is running: %s\n"
      "  console:      %s/\n"
      "  citizen form: %s/report\n"
      "  health:       %s/healthz\n"
      "  metrics:      %s/metrics\n"
      "  admin token:  %s/bootstrap-admin.token\n"
      "  a device:     curl -H \"Authorization: Bearer $(cat %s/bootstrap-admin.token)\" "
      "%s/api/v1/devices/sim-septic-500105-0001\n"
      "  demo users (role, user name, password; also in %s/demo-users.txt):\n%s"
      "  sign in:      curl -c jar -H 'Content-Type: application/json' "
      "-d '{\"username\":\"dispatcher\",\"password\":\"...\"}' %s/api/v1/session\n"
      "  stop:         Ctrl-C\n\n",
      url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(), data_dir.c_str(),
      data_dir.c_str(), url.c_str(), data_dir.c_str(), users.c_str(), url.c_str());
  std::fflush(stdout);
}

}  // namespace yiwang::tools
