#include "tests/fuzz/fuzz_harness.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <set>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <rocksdb/env.h>

#include "base/text.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/dispatcher.h"
#include "dispatcher/tables.h"
#include "ingest/frame_codec.h"
#include "ingest/ingest_service.h"
#include "ingest/validation.h"
#include "store/event_store.h"
#include "store/key_codec.h"
#include "store/test_hooks.h"
#include "tests/support/xml_check.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/citizen_api.h"
#include "web/district_locator.h"
#include "web/http_server.h"
#include "web/http_util.h"
#include "web/open311.h"
#include "web/tables.h"

namespace yiwang::fuzz {

namespace http = boost::beast::http;

namespace {

std::shared_ptr<spdlog::logger> Quiet(const std::string& name) {
  return std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
}

// 2024-05-01T00:00:00Z, as in tests/support/events.h.
std::chrono::system_clock::time_point FixedNow() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1714521600));
}

const std::set<std::string>& KnownReasons() {
  static const std::set<std::string> reasons = [] {
    std::set<std::string> s;
    for (int i = 1; i < ingest::kRejectCount; ++i)
      s.insert(ingest::RejectName(static_cast<ingest::Reject>(i)));
    return s;
  }();
  return reasons;
}

// A fresh directory under `base` (only a name for RocksDB: the store runs on its in-memory
// file system, so nothing is written there), or abort.
std::filesystem::path TempDir(const std::string& base) {
  std::string templ = base + "/yiwang-fuzz-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  return templ;
}

// Store options for fuzzing: RocksDB's in-memory file system (the store's test hook), sync
// off, small caches. `mem` holds the Env that owns the file system; it must outlive the store.
store::StoreOptions FuzzStoreOptions(const std::filesystem::path& dir,
                                     std::unique_ptr<rocksdb::Env>* mem) {
  mem->reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
  store::StoreOptions opts;
  opts.data_dir = (dir / "data").string();
  opts.tables = store::TablesOf(dispatcher::tables::kAll, web::tables::kAll);
  opts.sync = false;
  opts.block_cache_bytes = 8u << 20;
  opts.write_buffer_bytes = 8u << 20;
  opts.max_background_jobs = 1;
  opts.test_hooks = std::make_shared<store::StoreTestHooks>();
  opts.test_hooks->file_system = (*mem)->GetFileSystem();
  return opts;
}

}  // namespace

struct Harness::Impl {
  std::filesystem::path dir;
  std::unique_ptr<rocksdb::Env> mem_env;  // owns the store's file system: declared first
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<store::EventStore> store;
  std::unique_ptr<ingest::IngestService> ingest;
  std::unique_ptr<web::Accounts> accounts;
  std::unique_ptr<web::Api> api;
  yiwang::v1::TokenRecord device_token;
  std::string admin;
  // The frame target starts over on a fresh store after this many stored events: the in-memory
  // file system keeps everything written, so memory would grow with every stored event of a
  // long run. (The fast RSS growth once seen in that target was ASan's stack depot, though:
  // see tools/run_fuzz.sh.)
  uint64_t events_per_stack = 0;
  uint64_t stored = 0;  // events accepted since the stack was built

  void Close() {
    api.reset();
    accounts.reset();
    ingest.reset();
    store.reset();
  }

  void Build() {
    Close();
    metrics = std::make_unique<Metrics>();
    const store::StoreOptions opts = FuzzStoreOptions(dir, &mem_env);
    Status s;
    store = store::EventStore::Open(opts, Quiet("store"), metrics.get(), &s);
    if (!store) std::abort();
    ingest = std::make_unique<ingest::IngestService>(store.get(), ingest::IngestLimits{},
                                                     metrics.get(), Quiet("ingest"),
                                                     Clock(FixedNow));
    accounts = std::make_unique<web::Accounts>(store.get(), metrics.get(), Quiet("auth"));
    api = std::make_unique<web::Api>(store.get(), metrics.get(), accounts.get(), Quiet("web"));
    device_token.set_name("fuzz");
    device_token.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
    admin.clear();
    if (!web::CreateToken(store.get(), yiwang::v1::TOKEN_KIND_ADMIN, "fuzz-admin", "", &admin)
             .ok())
      std::abort();
    stored = 0;
  }
};

Harness::Harness(const std::string& base_dir, uint64_t events_per_stack)
    : impl_(std::make_unique<Impl>()) {
  impl_->events_per_stack = events_per_stack;
  // Protobuf logs every string field with invalid UTF-8 at ERROR; the server sends those lines
  // to a debug logger (tools/serve.cc). Here: nowhere.
  google::protobuf::SetLogHandler(nullptr);
  impl_->dir = TempDir(base_dir);
  impl_->Build();
}

Harness::~Harness() {
  impl_->Close();
  std::error_code ec;
  std::filesystem::remove_all(impl_->dir, ec);
}

const std::string& Harness::admin_token() const { return impl_->admin; }

std::string Harness::Frame(std::string_view data, bool binary, yiwang::v1::IngestAck* out) {
  if (impl_->stored >= impl_->events_per_stack) impl_->Build();
  std::promise<std::string> replied;
  auto future = replied.get_future();
  int calls = 0;
  impl_->ingest->HandleFrame(data, binary, impl_->device_token,
                             [&replied, &calls](std::string ack) {
                               if (++calls == 1) replied.set_value(std::move(ack));
                             });
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready)
    return "no reply within 60 s";
  const std::string raw = future.get();
  // The writer calls `reply` before it takes the next request; a second call would come now.
  if (calls != 1) return "reply called " + std::to_string(calls) + " times";

  yiwang::v1::IngestAck ack;
  if (binary ? !ack.ParseFromString(raw)
             : !google::protobuf::util::JsonStringToMessage(raw, &ack).ok())
    return "the ack does not decode: " + raw;
  if (out) *out = ack;
  impl_->stored += ack.accepted();

  const ingest::DecodedFrame frame = ingest::DecodeFrame(data, binary, impl_->ingest->limits());
  if (!ack.error().empty()) {
    if (ack.error() != "malformed_frame" && ack.error() != "too_many_events")
      return "undocumented frame error " + ack.error();
    if (ack.error() != frame.error) return "frame error " + ack.error() + " vs " + frame.error;
    if (ack.accepted() || ack.duplicates() || ack.rejected_size())
      return "a refused frame counted events: " + ack.ShortDebugString();
    if (ack.message().empty()) return "frame error without a message";
    return "";
  }
  if (!frame.error.empty()) return "decoder error " + frame.error + " but ack without error";
  if (ack.batch_id() != frame.batch.batch_id()) return "ack batch id differs";
  const uint64_t events = static_cast<uint64_t>(frame.batch.events_size());
  if (uint64_t{ack.accepted()} + ack.duplicates() + static_cast<uint64_t>(ack.rejected_size()) !=
      events)
    return "counts do not add up to " + std::to_string(events) + ": " + ack.ShortDebugString();
  int64_t last = -1;
  for (const auto& r : ack.rejected()) {
    if (!KnownReasons().contains(r.reason())) return "undocumented reason " + r.reason();
    if (r.reason() == "storage_full" || r.reason() == "overloaded" ||
        r.reason() == "shutting_down")
      return "healthy store refused with " + r.reason();
    if (r.index() >= events) return "rejection index out of range";
    if (static_cast<int64_t>(r.index()) <= last) return "rejections out of frame order";
    last = r.index();
  }
  return "";
}

std::string Harness::Http(std::string_view raw, int* status_out) {
  if (status_out) *status_out = 0;
  std::string text(raw);
  for (size_t p = 0; (p = text.find("$ADMIN", p)) != std::string::npos;) {
    text.replace(p, 6, impl_->admin);
    p += impl_->admin.size();
  }
  http::request_parser<http::string_body> parser;
  parser.header_limit(web::kDefaultMaxHeaderBytes);
  parser.body_limit(web::kDefaultMaxBodyBytes);
  parser.eager(true);
  boost::system::error_code ec;
  boost::asio::const_buffer buf(text.data(), text.size());
  while (buf.size() > 0 && !parser.is_done()) {
    const size_t n = parser.put(buf, ec);
    if (ec) break;
    buf += n;
    if (n == 0) break;
  }
  if (!parser.is_done()) {
    ec = {};
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return "";  // not a request: the server answers 400 itself
  }
  const web::HttpRequest req = parser.release();
  const web::HttpResponse res = impl_->api->Handle(req);
  const unsigned status = res.result_int();
  if (status_out) *status_out = static_cast<int>(status);
  static const std::set<unsigned> kDocumented = {200, 201, 400, 401, 403, 404, 405, 507};
  if (!kDocumented.contains(status)) return "undocumented status " + std::to_string(status);
  const auto length = res[http::field::content_length];
  if (req.method() != http::verb::head && length != std::to_string(res.body().size()))
    return "Content-Length " + std::string(length) + " for a body of " +
           std::to_string(res.body().size());
  if (status >= 400 && req.method() != http::verb::head) {
    boost::json::value v = boost::json::parse(res.body(), ec);
    const boost::json::object* err = nullptr;
    if (!ec && v.is_object())
      if (auto* e = v.as_object().if_contains("error"); e && e->is_object()) err = &e->as_object();
    if (!err || !err->contains("code") || !err->at("code").is_string() ||
        !err->contains("message") || !err->at("message").is_string())
      return "error body is not {\"error\":{\"code\",\"message\"}}: " + res.body();
  }
  return "";
}

std::string KeyCodec(std::string_view data) {
  using namespace store;
  // Arbitrary bytes as keys: whatever parses must re-encode to the same bytes.
  if (auto id = ParseEventKey(data); id && EventKey(*id) != data) return "event key round trip";
  if (auto ds = ParseDeviceSeqKey(data)) {
    if (ds->device_id.size() > kMaxDeviceIdLength) return "parsed device id too long";
    if (DeviceSeqKey(ds->device_id, ds->seq) != data) return "device_seq key round trip";
  }
  // Bytes as two (device, seq) pairs: encode, parse back, and compare the orders.
  if (data.size() < 18) return "";
  const uint64_t seq_a = DecodeFixed64BE(data.data());
  const uint64_t seq_b = DecodeFixed64BE(data.data() + 8);
  const size_t len_a = static_cast<uint8_t>(data[16]) % (kMaxDeviceIdLength + 1);
  std::string_view rest = data.substr(17);
  const std::string dev_a(rest.substr(0, std::min(len_a, rest.size())));
  const std::string dev_b(rest.substr(dev_a.size()).substr(0, kMaxDeviceIdLength));
  const std::string ka = DeviceSeqKey(dev_a, seq_a), kb = DeviceSeqKey(dev_b, seq_b);
  auto pa = ParseDeviceSeqKey(ka), pb = ParseDeviceSeqKey(kb);
  if (!pa || !pb || pa->device_id != dev_a || pa->seq != seq_a || pb->device_id != dev_b ||
      pb->seq != seq_b)
    return "device_seq encode/parse round trip";
  if (!ka.starts_with(DeviceSeqPrefix(dev_a))) return "key outside its device prefix";
  // Same device: key order is seq order. Different devices: no key of one lies in the other's
  // prefix range.
  if (dev_a == dev_b && (ka < kb) != (seq_a < seq_b)) return "key order != seq order";
  if (dev_a != dev_b && kb.starts_with(DeviceSeqPrefix(dev_a))) return "prefix overlap";
  if ((EventKey(seq_a) < EventKey(seq_b)) != (seq_a < seq_b)) return "event key order";
  if (ParseEventKey(EventKey(seq_a)) != seq_a) return "event key round trip";
  return "";
}


// --- Open311 ----------------------------------------------------------------------------------

namespace {

// One square around 渝中区, as tests/web/open311_test.cc.
constexpr char kDistrictMap[] = R"({"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"500103","name":"渝中区"},"geometry":{"type":"Polygon",
   "coordinates":[[[106.5,29.5],[106.6,29.5],[106.6,29.6],[106.5,29.6],[106.5,29.5]]]}}]})";

// The target's bytes as a server would receive them: bytes an HTTP request line cannot carry
// percent-encoded.
std::string TargetBytes(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      static const char* kHex = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  for (size_t p = 0; (p = s->find(from, p)) != std::string::npos; p += to.size())
    s->replace(p, from.size(), to);
}

}  // namespace

struct Open311Harness::Impl {
  std::filesystem::path dir;
  std::unique_ptr<rocksdb::Env> mem_env;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<store::EventStore> store;
  std::unique_ptr<dispatcher::Dispatcher> dispatcher;
  std::unique_ptr<web::Accounts> accounts;
  web::DistrictLocator districts;
  std::unique_ptr<web::CitizenApi> citizen;
  std::unique_ptr<web::Open311> open311;
  std::string key;
  int cases = 0;  // 201s since the stack was built
  int posts = 0;  // POSTs since the stack was built (the api key's rate limit counts them)

  void Close() {
    open311.reset();
    citizen.reset();
    accounts.reset();
    dispatcher.reset();
    store.reset();
  }
};

Open311Harness::Open311Harness(const std::string& base_dir) : impl_(std::make_unique<Impl>()) {
  google::protobuf::SetLogHandler(nullptr);
  impl_->dir = TempDir(base_dir);
  if (!web::DistrictLocator::Parse(kDistrictMap, &impl_->districts).ok()) std::abort();
  Rebuild();
}

Open311Harness::~Open311Harness() {
  impl_->Close();
  std::error_code ec;
  std::filesystem::remove_all(impl_->dir, ec);
}

void Open311Harness::Rebuild() {
  Impl& m = *impl_;
  m.Close();
  m.metrics = std::make_unique<Metrics>();
  Status s;
  m.store = store::EventStore::Open(FuzzStoreOptions(m.dir, &m.mem_env), Quiet("store"),
                                    m.metrics.get(), &s);
  if (!m.store) std::abort();
  dispatcher::DispatcherOptions o;
  o.clock = Clock([] { return FixedNow(); });
  m.dispatcher = dispatcher::Dispatcher::Open(m.store.get(), dispatcher::DefaultDispatchConfig(),
                                              o, Quiet("dispatcher"), m.metrics.get(), &s);
  if (!m.dispatcher) std::abort();
  m.accounts = std::make_unique<web::Accounts>(m.store.get(), m.metrics.get(), Quiet("auth"));
  // The fuzzer is one client address that looks up every token it files and guesses many: the
  // per-address tracking limits (tested in tests/web) would soon answer 429 to its checks.
  web::CitizenLimits limits;
  limits.tracking_lookups_per_window = UINT32_MAX;
  limits.wrong_codes_per_window = UINT32_MAX;
  m.citizen = std::make_unique<web::CitizenApi>(m.dispatcher.get(), m.store.get(), &m.districts,
                                                m.metrics.get(), Quiet("web"), limits);
  web::Accounts* accounts = m.accounts.get();
  m.open311 = std::make_unique<web::Open311>(
      m.citizen.get(), m.dispatcher.get(),
      [accounts](const web::HttpRequest& req) { return accounts->Authenticate(req); },
      m.metrics.get(), Quiet("web"));
  if (!web::CreateToken(m.store.get(), yiwang::v1::TOKEN_KIND_ADMIN, "fuzz-open311", "", &m.key)
           .ok())
    std::abort();
  m.cases = m.posts = 0;
}

std::string Open311Harness::Request(std::string_view data, int* status_out) {
  if (status_out) *status_out = 0;
  if (data.empty()) return "";
  if (impl_->cases >= kCasesPerStack || impl_->posts >= 500) Rebuild();
  const uint8_t b0 = static_cast<uint8_t>(data[0]);
  static constexpr http::verb kVerbs[] = {http::verb::get, http::verb::post, http::verb::head,
                                          http::verb::put};
  const http::verb method = kVerbs[b0 & 3];
  const bool raw_path = b0 & 8;  // no extension added
  std::string_view rest = data.substr(1);
  const size_t nl = rest.find('\n');
  std::string resource(rest.substr(0, nl));
  std::string body(nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1));
  ReplaceAll(&resource, "$KEY", impl_->key);
  ReplaceAll(&body, "$KEY", impl_->key);
  const size_t q = resource.find('?');
  std::string path = resource.substr(0, q);
  if (!raw_path) path += b0 & 4 ? ".xml" : ".json";
  const std::string target =
      "/open311/v2/" + TargetBytes(path) + (q == std::string::npos ? "" : TargetBytes(resource.substr(q)));
  const bool xml = target.substr(0, target.find('?')).ends_with(".xml");

  web::HttpRequest req{method, target, 11};
  req.set(http::field::host, "city.example");
  if (method == http::verb::post || method == http::verb::put) {
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.body() = body;
    req.prepare_payload();
  }
  if (method == http::verb::post) ++impl_->posts;
  std::optional<web::HttpResponse> answer = impl_->open311->Handle(req);
  if (!answer) return "no answer for " + target;
  const web::HttpResponse& res = *answer;
  const unsigned status = res.result_int();
  if (status_out) *status_out = static_cast<int>(status);
  static const std::set<unsigned> kDocumented = {200, 201, 400, 403, 404, 405, 429};
  if (!kDocumented.contains(status)) return "undocumented status " + std::to_string(status);
  // An unknown format is answered in JSON.
  const bool known_format = xml || target.substr(0, target.find('?')).ends_with(".json");
  const bool xml_answer = xml && known_format;
  if (res[http::field::content_type] !=
      (xml_answer ? "text/xml; charset=utf-8" : "application/json"))
    return "Content-Type " + std::string(res[http::field::content_type]);
  if (method == http::verb::head) return res.body().empty() ? "" : "a body for HEAD";
  if (res[http::field::content_length] != std::to_string(res.body().size()))
    return "Content-Length does not match the body";
  const std::string& b = res.body();
  if (status == 405 && res[http::field::allow].empty()) return "405 without Allow";
  if (xml_answer) {
    if (std::string p = test::XmlProblem(b); !p.empty()) return "XML: " + p + ": " + b;
    if (status >= 400) {
      const std::string head = R"(<?xml version="1.0" encoding="utf-8"?><errors><error><code>)" +
                               std::to_string(status) + "</code><description>";
      if (!b.starts_with(head) || !b.ends_with("</description></error></errors>"))
        return "XML error is not <errors><error><code>" + std::to_string(status) + "...: " + b;
    }
    return "";
  }
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(b, ec);
  if (ec) return "not JSON (" + ec.message() + "): " + b;
  if (status >= 400) {
    const boost::json::array* a = v.if_array();
    const boost::json::object* e = a && a->size() == 1 ? (*a)[0].if_object() : nullptr;
    if (!e || e->size() != 2 || !e->contains("code") || !e->at("code").is_int64() ||
        e->at("code").as_int64() != status || !e->contains("description") ||
        !e->at("description").is_string() || e->at("description").as_string().empty())
      return "error is not [{\"code\": " + std::to_string(status) + ", \"description\"}]: " + b;
    return "";
  }
  if (!v.is_array() && !v.is_object()) return "JSON answer neither an array nor an object";
  if (status == 201) {
    ++impl_->cases;
    const boost::json::array* a = v.if_array();
    const boost::json::object* r = a && a->size() == 1 ? (*a)[0].if_object() : nullptr;
    const boost::json::string* id = r && r->contains("service_request_id")
                                         ? r->at("service_request_id").if_string() : nullptr;
    const boost::json::string* token =
        r && r->contains("token") ? r->at("token").if_string() : nullptr;
    if (!id || !token || id->empty() || token->empty())
      return "201 without service_request_id and token: " + b;
    web::HttpRequest track{http::verb::get, "/open311/v2/tokens/" + std::string(*token) + ".json",
                           11};
    auto t = impl_->open311->Handle(track);
    if (!t || t->result_int() != 200 ||
        t->body().find(web::JsonEscape(std::string_view(*id))) == std::string::npos)
      return "the token of a filed request does not track to its id";
    // The filed text in the XML feed: well-formed whatever the form carried.
    web::HttpRequest feed{http::verb::get,
                          "/open311/v2/requests.xml?service_request_id=" + std::string(*id), 11};
    auto f = impl_->open311->Handle(feed);
    if (!f || f->result_int() != 200) return "the filed request is not in the XML feed";
    if (std::string p = test::XmlProblem(f->body()); !p.empty())
      return "XML feed: " + p + ": " + f->body();
  }
  return "";
}

// --- One input of a named target --------------------------------------------------------------

std::string CheckInput(std::string_view target, std::string_view data) {
  auto base = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp");
  };
  // Each harness is a function-local static: destroyed by exit(), which a libFuzzer run that
  // reaches -runs calls, before LeakSanitizer's exit-time check (registered at start-up, so
  // run after every static destructor). Destroying one stops and joins its threads (the store's
  // writer, the dispatcher). Kept alive instead, they still ran while LSan scanned: after one
  // 10-million-input open311 run it reported 7 KiB as leaked that only the dispatcher thread's
  // stack and TLS held (Dispatcher::Impl::Loop's task deque, OpenSSL's per-thread state), as
  // LSan does when it cannot stop and scan a running thread. (A crash ends the process with
  // _Exit and runs none of this.)
  if (target == "frame") {
    static const std::unique_ptr<Harness> h = std::make_unique<Harness>(base());
    if (data.empty()) return "";
    return h->Frame(data.substr(1), data[0] & 1);
  }
  if (target == "api") {
    static const std::unique_ptr<Harness> h = std::make_unique<Harness>(base());
    return h->Http(data);
  }
  if (target == "open311") {
    static const std::unique_ptr<Open311Harness> h = std::make_unique<Open311Harness>(base());
    return h->Request(data);
  }
  if (target == "key_codec") return KeyCodec(data);
  if (target == "image") return Image(data);
  if (target == "case_machine") return CaseMachine(data);
  return "unknown target";
}

}  // namespace yiwang::fuzz
