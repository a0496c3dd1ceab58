// Similar images (docs/API.md): the stored images that look like a stored
// one, GET /v1/images/{id}/similar, or like an image sent to be checked
// before it is uploaded, POST /v1/similar (nothing is stored).
#include <boost/json.hpp>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "http/image_json.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

/// `max_distance` and `limit` from the query; anything else is refused.
service::SimilarQuery similar_query(const Request& req) {
  service::SimilarQuery q;
  for (const auto& [k, v] : req.query) {
    if (k == "max_distance") q.max_distance = int_parameter(k, v, 0, service::kMaxSimilarDistance);
    else if (k == "limit") q.limit = int_parameter(k, v, 1, service::kMaxSimilarLimit);
    else throw Error(ErrorCode::bad_parameter, "unknown parameter " + k + "; use max_distance or limit");
  }
  return q;
}

Response similar_answer(const std::vector<service::SimilarImage>& found) {
  json::array images;
  for (const auto& s : found) images.push_back(json::object{{"image", image_json(s.image)}, {"distance", s.distance}});
  return Response::json(200, core::json_text(json::object{{"images", std::move(images)}}));
}

class SimilarRoutes {
 public:
  explicit SimilarRoutes(ApiContext& cx) : cx_(cx) {}

  Handle of_image(Request& req, BodyReader&) {
    const auto query = similar_query(req);
    auto found = co_await cx_.pool.run([&] { return cx_.images.similar(req.scope, req.params[0], query); });
    co_return similar_answer(found);
  }

  /// The body is the image: raw, one multipart file, or JSON {"url"|"data"}.
  Handle of_upload(Request& req, BodyReader& body) {
    const auto query = similar_query(req);
    std::optional<service::Upload> upload;
    if (core::iequals(media_type(req.header("Content-Type")), "application/json")) {
      auto o = co_await read_json_object(body, json_body_limit(cx_.config));
      auto named = co_await json_image(o, cx_);
      upload.emplace(std::move(named));
    } else {
      auto sent = co_await read_image_body(req, body, cx_, "POST /v1/similar");
      upload.emplace(std::move(sent));
    }
    auto found = co_await cx_.pool.run([&] { return cx_.images.similar_to(req.scope, *upload, query); });
    co_return similar_answer(found);
  }

 private:
  ApiContext& cx_;
};

}  // namespace

void install_similar_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<SimilarRoutes>(rc->api);
  add_route(server, "GET", "/v1/images/{id}/similar", Access::read, self, &SimilarRoutes::of_image);
  add_route(server, "POST", "/v1/similar", Access::read, self, &SimilarRoutes::of_upload);
}

}  // namespace progimage::http
