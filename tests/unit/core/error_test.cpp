#include "core/error.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace progimage::core;

TEST(Error, StatusesFollowTheContract) {
  EXPECT_EQ(http_status(ErrorCode::bad_parameter), 400u);
  EXPECT_EQ(http_status(ErrorCode::unauthorized), 401u);
  EXPECT_EQ(http_status(ErrorCode::token_expired), 401u);
  EXPECT_EQ(http_status(ErrorCode::bad_token), 401u);
  EXPECT_EQ(http_status(ErrorCode::unknown_key), 401u);
  EXPECT_EQ(http_status(ErrorCode::bad_signature), 403u);
  EXPECT_EQ(http_status(ErrorCode::not_found), 404u);
  EXPECT_EQ(http_status(ErrorCode::precondition_failed), 412u);
  EXPECT_EQ(code_name(ErrorCode::precondition_failed), "precondition_failed");
  EXPECT_EQ(http_status(ErrorCode::link_expired), 410u);
  EXPECT_EQ(http_status(ErrorCode::result_expired), 410u);
  EXPECT_EQ(http_status(ErrorCode::payload_too_large), 413u);
  EXPECT_EQ(http_status(ErrorCode::unsupported_media), 415u);
  EXPECT_EQ(http_status(ErrorCode::image_too_large), 422u);
  EXPECT_EQ(http_status(ErrorCode::rate_limited), 429u);
  EXPECT_EQ(http_status(ErrorCode::overloaded), 503u);
  EXPECT_EQ(http_status(ErrorCode::upstream_failed), 502u);
  EXPECT_EQ(http_status(ErrorCode::upstream_timeout), 504u);
}

TEST(Error, JsonShape) {
  auto v = boost::json::parse(error_json(ErrorCode::image_too_large, "image is \"big\""));
  EXPECT_EQ(v.at("error").at("code").as_string(), "image_too_large");
  EXPECT_EQ(v.at("error").at("message").as_string(), "image is \"big\"");
}
