#include "core/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace progimage::core;

namespace {
ConfigResult load(std::vector<const char*> args) {
  args.insert(args.begin(), "progimage");
  return load_config(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST(Config, Defaults) {
  auto r = load({"serve"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->listen, "127.0.0.1:8080");
  EXPECT_EQ(r.config->data, "./data");
  EXPECT_EQ(r.config->catalog_url(), "sqlite://./data/catalog.db");
  EXPECT_EQ(r.config->max_upload_bytes, 50 * 1024 * 1024);
  EXPECT_EQ(r.config->variants.at("thumb"), "w=100&h=100&fit=cover");
}

TEST(Config, HelpListsEverySettingWithDefault) {
  auto r = load({"serve", "--help"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"--listen", "--data", "--catalog", "--storage", "--role", "--workers", "--api-key",
                        "--signing-secret", "--fetch-allow", "--max-upload-bytes", "--max-pixels",
                        "--processing-queue", "--cache-bytes", "PROGIMAGE_LISTEN", "default 127.0.0.1:8080"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
}

TEST(Config, FlagsBeatEnvironmentBeatFile) {
  auto path = std::filesystem::temp_directory_path() / "progimage-config-test.toml";
  std::ofstream(path) << "listen = \"127.0.0.1:7000\"\nmax_pixels = 5000\nmax_frames = 9\n"
                         "api_key = [\"k1:admin\", \"k2:read\"]\n[presets]\nsquare = \"w=200&h=200&fit=cover\"\n";
  setenv("PROGIMAGE_MAX_PIXELS", "6000", 1);
  auto r = load({"serve", "--config", path.c_str(), "--listen", "127.0.0.1:9000"});
  unsetenv("PROGIMAGE_MAX_PIXELS");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->listen, "127.0.0.1:9000");
  EXPECT_EQ(r.config->max_pixels, 6000);
  EXPECT_EQ(r.config->max_frames, 9);
  ASSERT_EQ(r.config->api_keys.size(), 2u);
  EXPECT_EQ(r.config->api_keys[1].role, Role::read);
  EXPECT_EQ(r.config->presets.at("square"), "w=200&h=200&fit=cover");
  std::filesystem::remove(path);
}

TEST(Config, EnvironmentListsAreCommaSeparated) {
  setenv("PROGIMAGE_API_KEYS", "a:admin,b:write", 1);
  auto r = load({});
  unsetenv("PROGIMAGE_API_KEYS");
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->api_keys.size(), 2u);
  EXPECT_EQ(r.config->api_keys[1].key, "b");
}

TEST(Config, BadValuesSayWhatToDo) {
  auto r = load({"--max-pixels", "lots"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--max-pixels"), std::string::npos);
  r = load({"--api-key", "secret:root"});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.output.find("KEY:ROLE"), std::string::npos);
  r = load({"--transform-timeout", "soon"});
  EXPECT_FALSE(r.config);
}

TEST(Config, ReadmeReferenceMatchesTheTable) {
  std::ifstream in(std::string(PROGIMAGE_SOURCE_DIR) + "/README.md");
  std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(readme.empty());
  EXPECT_NE(readme.find(settings_reference_markdown()), std::string::npos)
      << "README.md's settings table is stale: regenerate it with `progimage settings-reference`";
}

TEST(Config, ResumableExpiryIsADuration) {
  auto r = load({});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->resumable_expiry, std::chrono::hours(24));
  r = load({"--resumable-expiry", "PT2S"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->resumable_expiry, std::chrono::seconds(2));
  setenv("PROGIMAGE_RESUMABLE_EXPIRY", "90m", 1);
  r = load({});
  unsetenv("PROGIMAGE_RESUMABLE_EXPIRY");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->resumable_expiry, std::chrono::minutes(90));
  r = load({"--resumable-expiry", "0s"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--resumable-expiry"), std::string::npos) << r.output;
}

TEST(Config, S3CredentialsAndRegionComeFromFlagsOrTheAwsVariables) {
  for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                        "AWS_DEFAULT_REGION"})
    unsetenv(v);
  auto plain = load({});
  ASSERT_TRUE(plain.config) << plain.output;
  EXPECT_EQ(plain.config->s3_region, "us-east-1");
  EXPECT_TRUE(plain.config->s3_access_key_id.empty());

  setenv("AWS_ACCESS_KEY_ID", "env-key", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
  setenv("AWS_SESSION_TOKEN", "env-token", 1);
  setenv("AWS_DEFAULT_REGION", "eu-north-1", 1);
  auto from_env = load({});
  auto flags = load({"--s3-access-key-id", "flag-key", "--s3-secret-access-key", "flag-secret", "--s3-region",
                     "ap-east-1"});
  setenv("AWS_REGION", "sa-east-1", 1);
  auto region = load({});
  for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                        "AWS_DEFAULT_REGION"})
    unsetenv(v);
  ASSERT_TRUE(from_env.config && flags.config && region.config);
  EXPECT_EQ(from_env.config->s3_access_key_id, "env-key");
  EXPECT_EQ(from_env.config->s3_secret_access_key, "env-secret");
  EXPECT_EQ(from_env.config->s3_session_token, "env-token");
  EXPECT_EQ(from_env.config->s3_region, "eu-north-1");
  EXPECT_EQ(flags.config->s3_access_key_id, "flag-key");
  EXPECT_EQ(flags.config->s3_secret_access_key, "flag-secret");
  EXPECT_EQ(flags.config->s3_region, "ap-east-1");
  EXPECT_EQ(region.config->s3_region, "sa-east-1") << "AWS_REGION comes before AWS_DEFAULT_REGION";
}
