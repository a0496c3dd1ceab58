// Administration: upload links, keys, usage and stats.
#include <boost/json.hpp>

#include "commands.hpp"
#include "errors.hpp"
#include "units.hpp"

namespace progimage::cli {

namespace {

namespace json = boost::json;

constexpr const char* kLinksExamples = R"(
An upload link lets someone without a key upload (POST to its URL, or use it
in a resumable upload) until it expires, is used up or revoked. Its URL is
shown only when it is made.

Examples:
  progimage-cli links create --expires-in 1h --max-uploads 5 --format jpeg --format png --tag from-web
  progimage-cli links list
  progimage-cli links revoke WSZuefSNVCJfS5p1qk6RxL)";

constexpr const char* kKeysExamples = R"(
Managed keys (admin). The secret is shown only when the key is made. The
first managed key closes an open server.

Examples:
  progimage-cli keys create --role write --name 'acme uploader' --rate 5:20
  progimage-cli keys create --role read --key-tenant acme      # operators
  progimage-cli keys list --json
  progimage-cli keys revoke key_3sQp8ZtY1mVx0cR7bNw2Lk)";

constexpr const char* kUsageExamples = R"(
Requests, bytes, transforms and uploads by UTC day (default: the last 30 days).

Examples:
  progimage-cli usage
  progimage-cli usage --from 2026-11-01 --to 2026-11-30 --client self --json)";

constexpr const char* kStatsExamples = R"(
Examples:
  progimage-cli stats
  progimage-cli stats --json | jq .formats)";

/// Revokes each id; one failure does not stop the others.
int revoke_each(Context& ctx, const std::vector<std::string>& ids, const std::function<void(const std::string&)>& revoke) {
  int failed = 0;
  std::optional<progimage::Error> first;
  for (const auto& id : ids) {
    try {
      revoke(id);
      if (ctx.json) ctx.out().emit(json::object{{"id", id}, {"revoked", true}});
      else ctx.out().line("revoked " + id);
    } catch (const progimage::Error& e) {
      ++failed;
      if (!first) first = e;
      if (ctx.json) ctx.out().emit(json::object{{"id", id}, {"revoked", false}, {"error", error_json(e)}});
      else ctx.out().note("failed  " + id + "  " + describe(e));
    }
  }
  if (first && !ctx.json)
    if (auto hint = advice(*first, ctx.settings()); !hint.empty()) ctx.out().note("hint: " + hint);
  return failed ? kExitFailed : kExitOk;
}

std::string joined(const std::vector<std::string>& items, const char* empty) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? empty : out;
}

// ---- links ----

struct LinkArgs {
  std::string expires_in, expires_at, max_bytes;
  int max_uploads = 1;
  std::vector<std::string> formats, tags;
};

std::string link_line(const UploadLink& l) {
  return l.id + "  " + l.status + "  " + std::to_string(l.uses) + "/" + std::to_string(l.max_uploads) +
         " uploads  expires " + l.expires_at + "  formats " + joined(l.formats, "any") +
         (l.max_bytes ? "  max " + human_bytes(*l.max_bytes) : "") + (l.tags.empty() ? "" : "  tags " + joined(l.tags, ""));
}

int create_link(Context& ctx, const LinkArgs& a) {
  UploadLinkRequest r;
  if (!a.expires_at.empty()) r.expires_at = a.expires_at;
  else r.expires_in = iso_duration(a.expires_in.empty() ? "1h" : a.expires_in);
  r.max_uploads = a.max_uploads;
  if (!a.max_bytes.empty()) r.max_bytes = parse_size(a.max_bytes);
  r.formats = a.formats;
  r.tags = a.tags;
  const UploadLink link = ctx.client().create_upload_link(r);
  std::string base = ctx.settings().server.value;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (ctx.json) {
    json::object o = to_json(link);
    o["upload_url"] = base + link.url;
    ctx.out().emit(o);
  } else {
    ctx.out().line(base + link.url);
    ctx.out().line(link_line(link));
    ctx.out().note("the link's URL is shown only now");
  }
  return kExitOk;
}

int list_links(Context& ctx) {
  for (const UploadLink& l : ctx.client().upload_links()) {
    if (ctx.json) ctx.out().emit(to_json(l));
    else ctx.out().line(link_line(l));
  }
  return kExitOk;
}

// ---- keys ----

struct KeyArgs {
  KeyRequest request;
  std::string rate;
};

std::string key_line(const Key& k) {
  std::string out = k.id + "  " + k.prefix + "…  " + k.role + "  tenant " + k.tenant + "  created " + k.created_at;
  out += "  last used " + k.last_used_at.value_or("never");
  if (k.rate_limit) {
    char rate[64];
    std::snprintf(rate, sizeof rate, "  rate %g/s burst %d", k.rate_limit->per_second, k.rate_limit->burst);
    out += rate;
  }
  if (!k.name.empty()) out += "  " + k.name;
  return out;
}

/// "5:20" → 5 per second, a burst of 20; "5" → the burst defaults on the server.
RateLimit parse_rate(const std::string& text) {
  try {
    std::size_t used = 0;
    RateLimit r;
    r.per_second = std::stod(text, &used);
    if (used < text.size()) {
      if (text[used] != ':') throw std::invalid_argument(text);
      const std::string burst = text.substr(used + 1);
      r.burst = std::stoi(burst, &used);
      if (used != burst.size()) throw std::invalid_argument(text);
    } else {
      r.burst = std::max(1, static_cast<int>(r.per_second));
    }
    if (r.per_second <= 0 || r.burst < 1) throw std::invalid_argument(text);
    return r;
  } catch (const std::logic_error&) {
    throw UsageError("--rate '" + text + "' is not PER_SECOND[:BURST] (like 5:20)");
  }
}

int create_key(Context& ctx, KeyArgs a) {
  if (!a.rate.empty()) a.request.rate_limit = parse_rate(a.rate);
  const Key key = ctx.client().create_key(a.request);
  if (ctx.json) {
    ctx.out().emit(to_json(key));
  } else {
    ctx.out().line(key.secret);
    ctx.out().line(key_line(key));
    ctx.out().note("the secret is shown only now: keep it (PROGIMAGE_KEY, or key= in a profile)");
  }
  return kExitOk;
}

int list_keys(Context& ctx) {
  for (const Key& k : ctx.client().keys()) {
    if (ctx.json) ctx.out().emit(to_json(k));
    else ctx.out().line(key_line(k));
  }
  return kExitOk;
}

// ---- usage and stats ----

std::int64_t number(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
  return 0;
}

std::string text(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::array& array(const json::object& o, const char* name) {
  static const json::array kEmpty;
  const json::value* v = o.if_contains(name);
  return v && v->is_array() ? v->as_array() : kEmpty;
}

int usage(Context& ctx, const UsageQuery& q) {
  const json::value report = to_json(ctx.client().usage(q));
  if (ctx.json || !report.is_object()) {
    ctx.out().emit(report);
    return kExitOk;
  }
  const json::object& r = report.as_object();
  ctx.out().line("usage " + text(r, "from") + " to " + text(r, "to"));
  auto day_line = [](const json::object& d) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %s  %8lld requests  %9s in  %9s out  %6lld transforms  %5lld uploads",
                  text(d, "date").c_str(), static_cast<long long>(number(d, "requests")),
                  human_bytes(number(d, "bytes_in")).c_str(), human_bytes(number(d, "bytes_out")).c_str(),
                  static_cast<long long>(number(d, "transforms")), static_cast<long long>(number(d, "uploads")));
    return std::string(buf);
  };
  for (const auto& t : array(r, "tenants")) {
    if (!t.is_object()) continue;
    ctx.out().line("tenant " + text(t.as_object(), "tenant"));
    for (const auto& d : array(t.as_object(), "days"))
      if (d.is_object()) ctx.out().line(day_line(d.as_object()));
  }
  for (const auto& k : array(r, "keys")) {
    if (!k.is_object()) continue;
    ctx.out().line("client " + text(k.as_object(), "key") + " (tenant " + text(k.as_object(), "tenant") + ")");
    for (const auto& d : array(k.as_object(), "days"))
      if (d.is_object()) ctx.out().line(day_line(d.as_object()));
  }
  return kExitOk;
}

int stats(Context& ctx) {
  const json::value report = to_json(ctx.client().stats());
  if (ctx.json || !report.is_object()) {
    ctx.out().emit(report);
    return kExitOk;
  }
  const json::object& r = report.as_object();
  ctx.out().line("images           " + std::to_string(number(r, "images")));
  ctx.out().line("bytes stored     " + human_bytes(number(r, "bytes_stored")));
  ctx.out().line("saved by dedupe  " + human_bytes(number(r, "bytes_saved_by_dedupe")));
  std::string formats;
  for (const auto& f : array(r, "formats"))
    if (f.is_object())
      formats += (formats.empty() ? "" : ", ") + text(f.as_object(), "format") + " " +
                 std::to_string(number(f.as_object(), "uploads"));
  ctx.out().line("formats          " + (formats.empty() ? std::string("none") : formats));
  std::string cameras;
  for (const auto& c : array(r, "top_camera_models"))
    if (c.is_object())
      cameras += (cameras.empty() ? "" : ", ") + text(c.as_object(), "model") + " " +
                 std::to_string(number(c.as_object(), "uploads"));
  if (!cameras.empty()) ctx.out().line("cameras          " + cameras);
  if (const json::value* jobs = r.if_contains("jobs"); jobs && jobs->is_object())
    ctx.out().line("jobs             " + std::to_string(number(jobs->as_object(), "queued")) + " queued, " +
                   std::to_string(number(jobs->as_object(), "running")) + " running, " +
                   std::to_string(number(jobs->as_object(), "failed")) + " with failed items");
  const auto& days = array(r, "uploads_per_day");
  if (!days.empty()) {
    ctx.out().line("uploads per day");
    for (const auto& d : days)
      if (d.is_object())
        ctx.out().line("  " + text(d.as_object(), "date") + "  " + std::to_string(number(d.as_object(), "uploads")));
  }
  return kExitOk;
}

}  // namespace

void add_admin_commands(CLI::App& app, Context& ctx) {
  {
    auto* links = app.add_subcommand("links", "upload links: create, list, revoke");
    links->require_subcommand(1);
    links->footer(kLinksExamples);
    auto a = std::make_shared<LinkArgs>();
    auto* create = links->add_subcommand("create", "make an upload link");
    create->footer(kLinksExamples);
    auto* in = create->add_option("--expires-in", a->expires_in, "lifetime: 30m, 1h, 7d or ISO 8601 (default 1h)");
    create->add_option("--expires-at", a->expires_at, "end, RFC 3339")->excludes(in);
    create->add_option("--max-uploads", a->max_uploads, "images it takes")->check(CLI::Range(1, 1'000'000))->capture_default_str();
    create->add_option("--max-bytes", a->max_bytes, "largest image: 10M, 1.5GB");
    create->add_option("--format", a->formats, "a format it takes (repeatable; default any)");
    create->add_option("-t,--tag", a->tags, "a tag given to every image (repeatable)");
    on_run(create, ctx, [&ctx, a] { return create_link(ctx, *a); });

    auto* list = links->add_subcommand("list", "the tenant's links, newest first");
    list->footer(kLinksExamples);
    on_run(list, ctx, [&ctx] { return list_links(ctx); });

    auto ids = std::make_shared<std::vector<std::string>>();
    auto* revoke = links->add_subcommand("revoke", "stop links taking uploads");
    revoke->footer(kLinksExamples);
    revoke->add_option("ids", *ids, "link ids")->required();
    on_run(revoke, ctx, [&ctx, ids] {
      return revoke_each(ctx, *ids, [&ctx](const std::string& id) { ctx.client().revoke_upload_link(id); });
    });
  }
  {
    auto* keys = app.add_subcommand("keys", "managed API keys: create, list, revoke");
    keys->require_subcommand(1);
    keys->footer(kKeysExamples);
    auto a = std::make_shared<KeyArgs>();
    auto* create = keys->add_subcommand("create", "make a key (its secret is shown once)");
    create->footer(kKeysExamples);
    create->add_option("--role", a->request.role, "read, write or admin")
        ->required()
        ->check(CLI::IsMember({"read", "write", "admin"}));
    create->add_option("--name", a->request.name, "what the key is for");
    create->add_option("--key-tenant", a->request.tenant, "operators: the key's tenant ('*': another operator key)");
    create->add_option("--rate", a->rate, "rate limit PER_SECOND[:BURST], like 5:20");
    on_run(create, ctx, [&ctx, a] { return create_key(ctx, *a); });

    auto* list = keys->add_subcommand("list", "the tenant's keys, oldest first (no secrets)");
    list->footer(kKeysExamples);
    on_run(list, ctx, [&ctx] { return list_keys(ctx); });

    auto ids = std::make_shared<std::vector<std::string>>();
    auto* revoke = keys->add_subcommand("revoke", "stop keys at once");
    revoke->footer(kKeysExamples);
    revoke->add_option("ids", *ids, "key ids")->required();
    on_run(revoke, ctx, [&ctx, ids] {
      return revoke_each(ctx, *ids, [&ctx](const std::string& id) { ctx.client().revoke_key(id); });
    });
  }
  {
    auto q = std::make_shared<UsageQuery>();
    auto* cmd = app.add_subcommand("usage", "requests, bytes and uploads by day");
    cmd->footer(kUsageExamples);
    cmd->add_option("--from", q->from, "first day, YYYY-MM-DD");
    cmd->add_option("--to", q->to, "last day, YYYY-MM-DD");
    cmd->add_option("--client", q->key, "'self' or one client (a key id as usage lists it)");
    on_run(cmd, ctx, [&ctx, q] { return usage(ctx, *q); });
  }
  {
    auto* cmd = app.add_subcommand("stats", "what is stored: images, bytes, formats, cameras, jobs (admin)");
    cmd->footer(kStatsExamples);
    on_run(cmd, ctx, [&ctx] { return stats(ctx); });
  }
}

}  // namespace progimage::cli
