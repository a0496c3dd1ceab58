#pragma once
// The API's JSON objects read into the structs of types.hpp (one reader per
// object), and error answers into progimage::Error.
#include <boost/json.hpp>

#include <string_view>

#include "http.hpp"
#include "progimage/error.hpp"
#include "progimage/paged.hpp"
#include "progimage/types.hpp"

namespace progimage::detail {

/// The Error an unsuccessful reply stands for: the API's code and message
/// with the status and `X-Request-Id`; `bad_response` when the body is not
/// the API's error JSON; `connection_failed` / `timeout` without an answer.
Error to_error(const Reply& reply);
/// The reply's body as a JSON object; throws `bad_response` otherwise.
boost::json::object parse_object(const Reply& reply);

Image read_image(const boost::json::object& o);
ImageInfo read_image_info(const boost::json::object& o);
Page<Image> read_image_page(const boost::json::object& o);
std::vector<SimilarMatch> read_similar(const boost::json::object& o);
std::vector<TagCount> read_tags(const boost::json::object& o);
std::vector<Derivative> read_derivatives(const boost::json::object& o);
Explanation read_explanation(const boost::json::object& o);
/// `first_position`: the position of the page's first result.
Job read_job(const boost::json::object& o, int first_position = 0);
Page<JobResult> read_job_results(const boost::json::object& o, int first_position);
Key read_key(const boost::json::object& o);
std::vector<Key> read_keys(const boost::json::object& o);
UploadLink read_upload_link(const boost::json::object& o);
Page<UploadLink> read_upload_links(const boost::json::object& o);
Quota read_quota(const boost::json::object& o);

/// A multipart upload answer of one part: the image, or that part's error.
Image read_single_part_upload(const Reply& reply);

}  // namespace progimage::detail
