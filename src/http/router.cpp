#include "http/router.hpp"

#include <algorithm>

namespace progimage::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  if (!path.empty() && path[0] == '/') start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::size_t Router::add(std::string method, std::string pattern) {
  Route r{std::move(method), std::move(pattern), {}};
  for (auto part : split_path(r.pattern)) {
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      bool dotted = part.find("}.{") != std::string_view::npos;
      r.segments.push_back({dotted ? Segment::dotted : Segment::capture, std::string(part)});
    } else {
      r.segments.push_back({Segment::literal, std::string(part)});
    }
  }
  routes_.push_back(std::move(r));
  return routes_.size() - 1;
}

bool Router::match_segments(const Route& r, const std::vector<std::string_view>& parts,
                            std::vector<std::string>* params) {
  if (parts.size() != r.segments.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& seg = r.segments[i];
    auto part = parts[i];
    switch (seg.kind) {
      case Segment::literal:
        if (part != seg.text) return false;
        break;
      case Segment::capture:
        if (part.empty() || part.find('.') != std::string_view::npos) return false;
        if (params) params->emplace_back(part);
        break;
      case Segment::dotted: {
        auto dot = part.rfind('.');
        if (dot == std::string_view::npos || dot == 0 || dot + 1 == part.size()) return false;
        if (params) {
          params->emplace_back(part.substr(0, dot));
          params->emplace_back(part.substr(dot + 1));
        }
        break;
      }
    }
  }
  return true;
}

RouteResult Router::match(std::string_view method, std::string_view path) const {
  auto parts = split_path(path);
  RouteResult result;
  std::vector<std::string> allowed;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& r = routes_[i];
    if (!match_segments(r, parts, nullptr)) continue;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      RouteMatch m{i, {}};
      match_segments(r, parts, &m.params);
      result.match = std::move(m);
      return result;
    }
    allowed.push_back(r.method);
    if (r.method == "GET") allowed.push_back("HEAD");
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  for (const auto& m : allowed) result.allow += (result.allow.empty() ? "" : ", ") + m;
  return result;
}

}  // namespace progimage::http
