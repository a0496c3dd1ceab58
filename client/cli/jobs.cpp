// Bulk work on the server: jobs submit, status, wait and cancel.
#include <optional>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>

#include "commands.hpp"
#include "errors.hpp"
#include "progress.hpp"
#include "units.hpp"

namespace progimage::cli {

namespace {

namespace json = boost::json;

constexpr const char* kSubmitExamples = R"(
Sources: image ids (--ids), remote images (--url), or every image a search
selects when the job is made (--tag, --query). --wait follows the job with a
bar of its items (plain lines when stderr is not a terminal), then lists every
result; the exit status is then 1 unless every item succeeded.

Examples:
  progimage-cli jobs submit --ids 4Jb1mX0cQe9T2vK7pLw8Aa 7Hc2QmX9pLw8AaQe9T2vK7 --params 'w=300&format=webp'
  progimage-cli jobs submit --tag holiday --params 'w=1200&h=1200&fit=inside' --format jpeg --store --wait
  progimage-cli jobs submit --query 'tag=beach&from=2026-06-01' --params w=300 --wait --json
  progimage-cli jobs submit --query '{"camera": "iPhone 8 Plus"}' --params grayscale=true --store)";

constexpr const char* kJobsExamples = R"(
Examples:
  progimage-cli jobs submit --tag holiday --params 'w=1200&format=jpeg' --store --wait
  progimage-cli jobs status 9fQ2mX0cQe9T2vK7pLw8Aa
  progimage-cli jobs wait 9fQ2mX0cQe9T2vK7pLw8Aa
  progimage-cli jobs cancel 9fQ2mX0cQe9T2vK7pLw8Aa)";

constexpr const char* kStatusExamples = R"(
Examples:
  progimage-cli jobs status 9fQ2mX0cQe9T2vK7pLw8Aa
  progimage-cli jobs status 9fQ2mX0cQe9T2vK7pLw8Aa --results)";

constexpr const char* kWaitExamples = R"(
Polls the job until every item is finished, drawing a bar of its items on
a terminal (a line when the count moves otherwise), then lists every result.
Exit status 1 unless every item succeeded.

Examples:
  progimage-cli jobs wait 9fQ2mX0cQe9T2vK7pLw8Aa
  progimage-cli jobs wait 9fQ2mX0cQe9T2vK7pLw8Aa --timeout 30m --json | jq -r 'select(.status=="failed")')";

constexpr const char* kCancelExamples = R"(
Items not started are dropped; items under way finish.

Examples:
  progimage-cli jobs cancel 9fQ2mX0cQe9T2vK7pLw8Aa)";

struct WaitArgs {
  std::string id;
  double poll_seconds = 0.5;
  std::string timeout;
};

struct SubmitArgs {
  std::vector<std::string> ids, urls, tags;
  std::string query, params, format, callback_url;
  bool store = false, wait = false;
  WaitArgs wait_args;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else out += s[i];
  }
  return out;
}

/// --query as the API's JSON object: given as JSON, or as a search's query
/// string (`tag=beach&tag=sunset&from=2026-06-01`); --tag adds to `tag`.
json::object job_query(const std::string& text, const std::vector<std::string>& tags) {
  json::object q;
  if (!text.empty() && text.front() == '{') {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) throw UsageError("--query is not a JSON object: " + text);
    q = std::move(v.as_object());
  } else {
    for (std::size_t at = 0; at < text.size();) {
      const auto end = std::min(text.find('&', at), text.size());
      const std::string_view pair(text.data() + at, end - at);
      at = end + 1;
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) throw UsageError("--query: '" + std::string(pair) + "' is not NAME=VALUE");
      const std::string name = percent_decode(pair.substr(0, eq)), value = percent_decode(pair.substr(eq + 1));
      if (name == "tag") {
        if (!q.contains("tag")) q["tag"] = json::array();
        q["tag"].as_array().push_back(json::value(value));
      } else {
        q[name] = value;
      }
    }
  }
  if (!tags.empty()) {
    json::value& t = q["tag"];
    if (t.is_string()) t = json::array{t};
    if (!t.is_array()) t = json::array();
    for (const auto& tag : tags) t.as_array().push_back(json::value(tag));
  }
  return q;
}

JobRequest job_request(const SubmitArgs& a) {
  const bool by_sources = !a.ids.empty() || !a.urls.empty();
  const bool by_query = !a.tags.empty() || !a.query.empty();
  if (by_sources == by_query)
    throw UsageError(by_sources ? "give sources (--ids, --url) or a selection (--tag, --query), not both"
                                : "say which images: --ids ID…, --url URL…, --tag TAG… or --query QUERY");
  JobRequest r;
  for (const auto& id : a.ids) r.sources.push_back(JobSource::image(id));
  for (const auto& url : a.urls) r.sources.push_back(JobSource::remote(url));
  if (by_query) r.query_json = json::serialize(job_query(a.query, a.tags));
  r.params = parse_params(a.params).query();
  r.format = a.format;
  r.store = a.store;
  r.callback_url = a.callback_url;
  return r;
}

void print_job(Context& ctx, const Job& job) {
  if (ctx.json) {
    ctx.out().emit(to_json(job));
    return;
  }
  ctx.out().line("job " + job.id + "  " + job_counts(job));
  ctx.out().line("params   " + job.params + (job.store ? "  (results stored)" : ""));
  ctx.out().line("created  " + job.created_at + (job.finished_at ? "   finished " + *job.finished_at : ""));
}

void print_result(Context& ctx, const JobResult& r) {
  if (ctx.json) {
    ctx.out().emit(to_json(r));
    return;
  }
  std::string line = std::to_string(r.position) + "  " + r.status + "  " + r.source;
  if (!r.image_id.empty()) line += "  -> " + r.image_id;
  else if (!r.url.empty()) line += "  -> " + r.url;
  if (r.error_code || r.error_message) line += "  " + r.error_code.value_or("error") + ": " + r.error_message.value_or("");
  ctx.out().line(line);
}

void print_results(Context& ctx, const std::string& id) {
  for (const JobResult& r : ctx.client().job_results(id)) print_result(ctx, r);
}

/// Follows the job to its end with a progress display, then lists its results.
int wait(Context& ctx, const std::string& id, const WaitArgs& a) {
  Progress progress(Progress::choose(ctx.json), "items", "job " + id);
  std::optional<AttachedProgress> attached(std::in_place, ctx.out(), progress);
  WaitOptions w;
  w.poll_interval = std::chrono::milliseconds(std::max<long>(50, std::lround(a.poll_seconds * 1000)));
  if (!a.timeout.empty()) w.timeout = parse_duration(a.timeout);
  w.on_progress = [&](const Job& job) {
    progress.set_total(job.total);
    progress.update(job.done + job.failed + job.cancelled);
  };
  const Job job = ctx.client().wait_job(id, w);
  progress.set_total(job.total);
  progress.update(job.done + job.failed + job.cancelled);
  progress.finish();
  attached.reset();
  print_results(ctx, id);
  if (ctx.json) {
    json::object summary = to_json(job);
    summary.erase("results");
    summary.erase("next_cursor");
    ctx.out().emit(summary);
  } else {
    ctx.out().line("job " + job.id + "  " + job_counts(job));
  }
  return job.status == "completed" ? kExitOk : kExitFailed;
}

int submit(Context& ctx, const SubmitArgs& a) {
  const Job job = ctx.client().submit_job(job_request(a));
  if (a.wait) {
    if (!ctx.json) ctx.out().note("job " + job.id + " submitted: " + std::to_string(job.total) + " items");
    return wait(ctx, job.id, a.wait_args);
  }
  if (ctx.json) ctx.out().emit(to_json(job));
  else ctx.out().line("job " + job.id + "  " + job.status + ", " + std::to_string(job.total) +
                      " items  (progimage-cli jobs wait " + job.id + ")");
  return kExitOk;
}

void add_wait_options(CLI::App* cmd, WaitArgs& a) {
  cmd->add_option("--poll", a.poll_seconds, "seconds between polls")->check(CLI::Range(0.05, 60.0))->capture_default_str();
  cmd->add_option("--timeout", a.timeout, "give up after this long (30m, 2h; default: never)");
}

}  // namespace

void add_job_commands(CLI::App& app, Context& ctx) {
  auto* jobs = app.add_subcommand("jobs", "bulk transforms on the server: submit, status, wait, cancel");
  jobs->require_subcommand(1);
  jobs->footer(kJobsExamples);
  {
    auto a = std::make_shared<SubmitArgs>();
    auto* cmd = jobs->add_subcommand("submit", "start a job over image ids, URLs or a search");
    cmd->footer(kSubmitExamples);
    cmd->add_option("--ids", a->ids, "image ids")->expected(1, -1);
    cmd->add_option("--url", a->urls, "a remote image (repeatable)");
    cmd->add_option("-t,--tag", a->tags, "every image with this tag (repeatable; any of them)");
    cmd->add_option("--query", a->query, "a search: 'tag=a&from=2026-01-01' or JSON '{\"camera\": \"…\"}'");
    cmd->add_option("-p,--params", a->params, "transform parameters, e.g. 'w=300&format=webp'")->required();
    cmd->add_option("--format", a->format, "output format, when --params has none");
    cmd->add_flag("--store", a->store, "store the results as new images");
    cmd->add_option("--callback-url", a->callback_url, "POSTed the job when it ends");
    cmd->add_flag("-w,--wait", a->wait, "wait for the job, with progress, and list its results");
    add_wait_options(cmd, a->wait_args);
    on_run(cmd, ctx, [&ctx, a] { return submit(ctx, *a); });
  }
  {
    auto id = std::make_shared<std::string>();
    auto results = std::make_shared<bool>(false);
    auto* cmd = jobs->add_subcommand("status", "a job's state and counts");
    cmd->footer(kStatusExamples);
    cmd->add_option("id", *id, "job id")->required();
    cmd->add_flag("--results", *results, "list every result too");
    on_run(cmd, ctx, [&ctx, id, results] {
      print_job(ctx, ctx.client().job(*id));
      if (*results) print_results(ctx, *id);
      return kExitOk;
    });
  }
  {
    auto a = std::make_shared<WaitArgs>();
    auto* cmd = jobs->add_subcommand("wait", "wait for a job to finish, with progress, and list its results");
    cmd->footer(kWaitExamples);
    cmd->add_option("id", a->id, "job id")->required();
    add_wait_options(cmd, *a);
    on_run(cmd, ctx, [&ctx, a] { return wait(ctx, a->id, *a); });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* cmd = jobs->add_subcommand("cancel", "cancel the items of a job that have not started");
    cmd->footer(kCancelExamples);
    cmd->add_option("id", *id, "job id")->required();
    on_run(cmd, ctx, [&ctx, id] {
      print_job(ctx, ctx.client().cancel_job(*id));
      return kExitOk;
    });
  }
}

}  // namespace progimage::cli
