// Debian's nginx run by a test: its own prefix folder in the test's temp folder, the
// `server` blocks the test gives (listening on loopback only), the access log in nginx's
// "combined" format at AccessLog(). Stopped (and waited for) when the object goes.
#pragma once

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "support/loopback_socket.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::testing {

class Nginx {
 public:
  // `servers`: the http block's server blocks. `ports`: the ports they listen on (waited for).
  Nginx(const TempDir& dir, const std::string& servers, const std::vector<int>& ports)
      : prefix_((dir.path() / "nginx").string()) {
    std::filesystem::create_directories(prefix_ + "/logs");
    std::filesystem::create_directories(prefix_ + "/tmp");
    std::string conf = fmt::format(
        "{}worker_processes 1;\npid {}/nginx.pid;\nerror_log {}/logs/error.log warn;\n"
        "events {{ worker_connections 256; }}\n"
        "http {{\n  access_log {}/logs/access.log combined;\n"
        "  client_body_temp_path {}/tmp/body; proxy_temp_path {}/tmp/proxy; fastcgi_temp_path "
        "{}/tmp/fastcgi;\n"
        "  uwsgi_temp_path {}/tmp/uwsgi; scgi_temp_path {}/tmp/scgi;\n"
        "  types {{ application/json json; application/octet-stream tgz whl; }}\n{}\n}}\n",
        geteuid() == 0 ? "user root;\n" : "", prefix_, prefix_, prefix_, prefix_, prefix_, prefix_, prefix_,
        prefix_, servers);
    WriteText(prefix_ + "/nginx.conf", conf);
    Run check =
        RunCommand(fmt::format("/usr/sbin/nginx -t -p {0} -e {0}/logs/error.log -c {0}/nginx.conf", prefix_));
    INFO(check.output);
    REQUIRE(check.exit_code == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::string conf_path = prefix_ + "/nginx.conf", error_log = prefix_ + "/logs/error.log";
      execl("/usr/sbin/nginx", "nginx", "-p", prefix_.c_str(), "-e", error_log.c_str(), "-c",
            conf_path.c_str(), "-g", "daemon off;", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int port : ports) {
      bool up = WaitUntil(
          [&] {
            return RunCommand(fmt::format("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}'", port)).exit_code == 0;
          },
          std::chrono::seconds(10));
      INFO(ReadText(prefix_ + "/logs/error.log"));
      REQUIRE(up);
    }
  }
  ~Nginx() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  std::string AccessLog() const { return prefix_ + "/logs/access.log"; }

 private:
  using Run = CommandRun;
  std::string prefix_;
  pid_t pid_ = -1;
};

}  // namespace pkgtrust::testing
