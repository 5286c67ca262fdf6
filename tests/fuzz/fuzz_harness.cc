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

#include "ingest/frame_codec.h"
#include "ingest/ingest_service.h"
#include "ingest/validation.h"
#include "store/event_store.h"
#include "store/key_codec.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/http_server.h"

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
    for (int i = 1; i <= static_cast<int>(ingest::Reject::kShuttingDown); ++i)
      s.insert(ingest::RejectName(static_cast<ingest::Reject>(i)));
    return s;
  }();
  return reasons;
}

}  // namespace

struct Harness::Impl {
  std::filesystem::path dir;
  Metrics metrics;
  std::unique_ptr<store::EventStore> store;
  std::unique_ptr<ingest::IngestService> ingest;
  std::unique_ptr<web::Accounts> accounts;
  std::unique_ptr<web::Api> api;
  yiwang::v1::TokenRecord device_token;
  std::string admin;
};

Harness::Harness(const std::string& base_dir) : impl_(std::make_unique<Impl>()) {
  // Protobuf logs every string field with invalid UTF-8 at ERROR; the server sends those lines
  // to a debug logger (tools/serve.cc). Here: nowhere.
  google::protobuf::SetLogHandler(nullptr);
  std::string templ = base_dir + "/yiwang-fuzz-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  impl_->dir = templ;
  store::StoreOptions opts;
  opts.data_dir = (impl_->dir / "data").string();
  opts.sync = false;
  opts.block_cache_bytes = 8u << 20;
  opts.write_buffer_bytes = 8u << 20;
  Status s;
  impl_->store = store::EventStore::Open(opts, Quiet("store"), &impl_->metrics, &s);
  if (!impl_->store) std::abort();
  impl_->ingest = std::make_unique<ingest::IngestService>(
      impl_->store.get(), ingest::IngestLimits{}, &impl_->metrics, Quiet("ingest"), FixedNow);
  impl_->accounts =
      std::make_unique<web::Accounts>(impl_->store.get(), &impl_->metrics, Quiet("auth"));
  impl_->api = std::make_unique<web::Api>(impl_->store.get(), &impl_->metrics,
                                          impl_->accounts.get(), Quiet("web"));
  impl_->device_token.set_name("fuzz");
  impl_->device_token.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
  if (!web::CreateToken(impl_->store.get(), yiwang::v1::TOKEN_KIND_ADMIN, "fuzz-admin", "",
                        &impl_->admin)
           .ok())
    std::abort();
}

Harness::~Harness() {
  impl_->api.reset();
  impl_->accounts.reset();
  impl_->ingest.reset();
  impl_->store.reset();
  std::error_code ec;
  std::filesystem::remove_all(impl_->dir, ec);
}

const std::string& Harness::admin_token() const { return impl_->admin; }

std::string Harness::Frame(std::string_view data, bool binary, yiwang::v1::IngestAck* out) {
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

}  // namespace yiwang::fuzz
