// Contract point 1: configuration by flags, environment and TOML file, --help,
// defaults, and SIGTERM draining in-flight requests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "core/config.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

bool port_is_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

TEST(Lifecycle, HelpListsEverySettingWithItsDefault) {
  auto [status, out] = run_command({server_binary(), "serve", "--help"}, 10s);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n" << out;
  // The settings table (core/config) is the list of settings; each row must be in --help.
  std::istringstream table(core::settings_reference_markdown());
  std::regex row_re(R"(^\| `(--[a-z0-9-]+)` \| `(PROGIMAGE_[A-Z0-9_]+)` \| (.*?) \|)");
  std::string line;
  int rows = 0;
  while (std::getline(table, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, row_re)) continue;
    ++rows;
    EXPECT_NE(out.find(m[1].str()), std::string::npos) << m[1] << " missing from --help";
    EXPECT_NE(out.find(m[2].str()), std::string::npos) << m[2] << " missing from --help";
    EXPECT_NE(out.find(m[3].str()), std::string::npos) << "default '" << m[3] << "' of " << m[1]
                                                       << " missing from --help";
  }
  EXPECT_GE(rows, 20);
  for (const char* flag : {"--listen", "--data", "--catalog", "--storage", "--role", "--workers", "--api-key",
                           "--signing-secret", "--fetch-allow", "--max-upload-bytes", "--max-pixels",
                           "--processing-threads", "--processing-queue", "--cache-bytes", "--log-level", "--config"})
    EXPECT_NE(out.find(flag), std::string::npos) << flag << " missing from --help";
  EXPECT_NE(out.find("127.0.0.1:8080"), std::string::npos);
  EXPECT_NE(out.find("./data"), std::string::npos);
}

TEST(Lifecycle, BadFlagFailsWithAMessage) {
  auto [status, out] = run_command({server_binary(), "serve", "--no-such-flag"}, 10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  EXPECT_FALSE(out.empty());
}

TEST(Lifecycle, NoFlagsServesOn8080WithDataInTheWorkingDirectory) {
  if (!port_is_free(8080)) GTEST_SKIP() << "127.0.0.1:8080 is in use on this machine";
  Server server({.pass_listen_and_data = false});
  server.set_port(8080);
  ASSERT_TRUE(server.start());
  auto up = upload_raw(server.http(), make_image(10, 10, 701, ".png"));
  EXPECT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_TRUE(fs::is_directory(server.dir() / "data")) << "no ./data in the working directory";
  EXPECT_FALSE(files_with_content(server.dir() / "data", jstring(up.json, "sha256")).empty());
  EXPECT_EQ(server.stop(), 0);
}

TEST(Lifecycle, EnvironmentVariablesConfigureTheServer) {
  Server server({.pass_listen_and_data = false});
  int port = free_port();
  server.set_port(port);
  server.options().env = {{"PROGIMAGE_LISTEN", "127.0.0.1:" + std::to_string(port)},
                          {"PROGIMAGE_DATA", (server.dir() / "envdata").string()},
                          {"PROGIMAGE_MAX_UPLOAD_BYTES", "2000"}};
  ASSERT_TRUE(server.start());
  auto small = upload_raw(server.http(), make_image(8, 8, 702, ".png"));
  EXPECT_EQ(small.response.status, 201) << small.response.describe();
  auto big = upload_raw(server.http(), make_image(200, 200, 703, ".png"));
  EXPECT_TRUE(is_error(big.response, 413, "payload_too_large"));
  EXPECT_FALSE(files_with_content(server.dir() / "envdata", sha256_hex(make_image(8, 8, 702, ".png"))).empty());
}

TEST(Lifecycle, TomlFileConfiguresTheServerAndFlagsWin) {
  Server server({.pass_listen_and_data = false});
  int file_port = free_port();
  int flag_port = free_port();
  ASSERT_NE(file_port, flag_port);
  fs::path toml = server.dir() / "progimage.toml";
  write_file(toml, "listen = \"127.0.0.1:" + std::to_string(file_port) + "\"\n" + "data = \"" +
                       (server.dir() / "tomldata").string() + "\"\n" + "max_upload_bytes = 2000\n");
  // The file sets listen, data and a limit; the flag moves the port; the environment loses to the flag.
  server.set_port(flag_port);
  server.options().args = {"--config", toml.string(), "--listen", "127.0.0.1:" + std::to_string(flag_port)};
  server.options().env = {{"PROGIMAGE_LISTEN", "127.0.0.1:" + std::to_string(file_port)}};
  ASSERT_TRUE(server.start());
  EXPECT_NE(Http("http://127.0.0.1:" + std::to_string(file_port)).get("/healthz", {}, 2s).status, 200);
  auto big = upload_raw(server.http(), make_image(200, 200, 704, ".png"));
  EXPECT_TRUE(is_error(big.response, 413, "payload_too_large")) << "max_upload_bytes from the TOML file";
  auto small = upload_raw(server.http(), make_image(8, 8, 705, ".png"));
  EXPECT_EQ(small.response.status, 201);
  EXPECT_TRUE(fs::is_directory(server.dir() / "tomldata")) << "data directory from the TOML file";
}

// The harness gives every server the backends of PROGIMAGE_TEST_CATALOG and
// PROGIMAGE_TEST_STORAGE (tests/README.md); the start-up line says which it opened.
TEST(Lifecycle, ServerRunsOnTheBackendsTheSuiteGivesIt) {
  Server server;
  ASSERT_TRUE(server.start());
  auto up = upload_raw(server.http(), make_image(12, 12, 708, ".png"));
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_EQ(server.http().get("/v1/images/" + up.id).body, make_image(12, 12, 708, ".png"));
  std::optional<boost::json::value> serving;
  std::istringstream log(server.stdout_text());
  for (std::string line; std::getline(log, line);) {
    boost::system::error_code ec;
    auto j = boost::json::parse(line, ec);
    if (!ec && jstring(j, "msg") == "serving") serving = j;
  }
  ASSERT_TRUE(serving) << "no \"serving\" line in the log:\n" << tail(server.stdout_text());
  EXPECT_EQ(jstring(*serving, "catalog"), server.catalog_url());
  EXPECT_EQ(jstring(*serving, "storage"), server.storage_url());
}

TEST(Lifecycle, CheckSaysOkForASoundCatalogAndNamesTheProblemsOfABrokenOne) {
  Server server;
  ASSERT_TRUE(server.start());
  auto up = upload_raw(server.http(), make_image(12, 12, 709, ".png"), "description=a%20%23tag");
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_EQ(server.stop(), 0);
  auto [status, out] = server.check();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n" << out;
  EXPECT_EQ(out, "ok\n");

  auto check = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {server_binary(), "check"});
    return run_command(args, 60s, {}, server.dir());
  };
  auto exited_with = [](int wait_status, int code) {
    return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == code;
  };

  // A catalog file that is not a database: exit 1 and a line about the catalog.
  const fs::path broken = server.dir() / "broken";
  fs::create_directories(broken);
  write_file(broken / "catalog.db", std::string(8192, 'x'));
  auto [bad_status, bad_out] =
      check({"--catalog", "sqlite://" + (broken / "catalog.db").string(), "--storage", "file://" + broken.string()});
  EXPECT_TRUE(exited_with(bad_status, 1)) << "status " << bad_status << "\n" << bad_out;
  EXPECT_NE(bad_out.find("catalog"), std::string::npos) << bad_out;
  EXPECT_EQ(bad_out.find("ok\n"), std::string::npos) << bad_out;

  // An unknown scheme is a bad setting, not a problem of the data.
  auto [usage_status, usage_out] = check({"--catalog", "nosuch://x"});
  EXPECT_TRUE(exited_with(usage_status, 2)) << "status " << usage_status << "\n" << usage_out;
  EXPECT_NE(usage_out.find("nosuch://x"), std::string::npos) << usage_out;
}

TEST(Lifecycle, SigtermDrainsAnUploadInFlightThenExits) {
  Server server;
  ASSERT_TRUE(server.start());
  std::string png = make_image(400, 400, 706, ".png");
  RawConnection c(server.port());
  ASSERT_TRUE(c.ok());
  std::string head = "POST /v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: " +
                     std::to_string(png.size()) + "\r\n\r\n";
  ASSERT_TRUE(c.send(head + png.substr(0, png.size() / 2)));
  std::this_thread::sleep_for(300ms);
  server.signal(SIGTERM);
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(c.send(png.substr(png.size() / 2))) << "the connection was dropped on SIGTERM";
  std::string resp = c.read_response(15s);
  EXPECT_EQ(raw_status(resp), 201) << "in-flight upload not finished: '" << resp.substr(0, 300) << "'";
  auto status = server.wait_exit(15s);
  ASSERT_TRUE(status.has_value()) << "server did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "exit status " << *status;
  // The acknowledged upload is there after a restart.
  ASSERT_TRUE(server.start());
  auto body_start = resp.find("\r\n\r\n");
  boost::system::error_code ec;
  auto j = boost::json::parse(body_start == std::string::npos ? "" : resp.substr(body_start + 4), ec);
  ASSERT_FALSE(ec) << resp;
  auto got = server.http().get("/v1/images/" + jstring(j, "id"));
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == png);
}

TEST(Lifecycle, SigtermDrainsAConversionInFlight) {
  Server server({.args = {"--cache-bytes", "0"}});
  ASSERT_TRUE(server.start());
  auto up = upload_raw(server.http(), make_image(1600, 1600, 707, ".jpg"));
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  auto http = server.http();
  auto pending = std::async(std::launch::async, [&] { return http.get("/v1/images/" + up.id + ".avif", {}, 120s); });
  std::this_thread::sleep_for(300ms);
  server.signal(SIGTERM);
  auto r = pending.get();
  EXPECT_EQ(r.status, 200) << "conversion in flight at SIGTERM: " << r.describe();
  EXPECT_EQ(decode(r.body).loader, "heifload");
  auto status = server.wait_exit(20s);
  ASSERT_TRUE(status.has_value()) << "server did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "exit status " << *status;
}

}  // namespace
}  // namespace progimage::contract
