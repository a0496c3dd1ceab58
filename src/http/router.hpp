#pragma once
// Method + path matching for the API's routes. Patterns are literal segments
// and `{name}` captures; `{a}.{b}` captures a segment around its last dot
// (`/v1/images/{id}.{ext}`), while `{a}` never matches a segment with a dot.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::http {

struct RouteMatch {
  std::size_t index = 0;            // position of the route in the table
  std::vector<std::string> params;  // captures in pattern order
};

struct RouteResult {
  std::optional<RouteMatch> match;
  std::string allow;  // when the path exists but not for this method: "GET, HEAD, DELETE"
};

class Router {
 public:
  /// Adds a route; returns its index.
  std::size_t add(std::string method, std::string pattern);
  /// HEAD matches GET routes.
  RouteResult match(std::string_view method, std::string_view path) const;
  const std::string& pattern(std::size_t index) const { return routes_[index].pattern; }

 private:
  struct Segment {
    enum Kind { literal, capture, dotted } kind;
    std::string text;
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
  };
  static bool match_segments(const Route& r, const std::vector<std::string_view>& parts,
                             std::vector<std::string>* params);
  std::vector<Route> routes_;
};

}  // namespace progimage::http
