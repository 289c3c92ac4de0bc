#include "pkgtrust/adoption/access_log.hpp"

#include <fmt/format.h>

#include <charconv>

#include "pkgtrust/adoption/events.hpp"
#include "pkgtrust/adoption/user_agent.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::adoption {

namespace {

constexpr std::size_t kMaxLine = 64 * 1024;
constexpr std::size_t kMaxExamples = 20;

bool Number(std::string_view text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// "10/Oct/2000:13:55:36 -0700" -> ms since the epoch (UTC).
core::Result<core::Millis> ParseLocalTime(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int day = 0, year = 0, hour = 0, minute = 0, second = 0, zone = 0;
  if (text.size() != 26 || text[2] != '/' || text[6] != '/' || text[11] != ':' || text[14] != ':' ||
      text[17] != ':' || text[20] != ' ' || (text[21] != '+' && text[21] != '-') ||
      !Number(text.substr(0, 2), day) || !Number(text.substr(7, 4), year) ||
      !Number(text.substr(12, 2), hour) || !Number(text.substr(15, 2), minute) ||
      !Number(text.substr(18, 2), second) || !Number(text.substr(22, 4), zone))
    return core::Status::InvalidArgument("the time is not nginx's $time_local");
  unsigned month = 0;
  while (month < 12 && kMonths[month] != text.substr(3, 3)) ++month;
  if (month == 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || year < 1970)
    return core::Status::InvalidArgument("the time is not nginx's $time_local");
  std::int64_t offset_minutes = (zone / 100) * 60 + zone % 100;
  if (text[21] == '-') offset_minutes = -offset_minutes;
  return core::UtcMillis(year, static_cast<int>(month) + 1, day, hour, minute, second) -
         offset_minutes * 60'000;
}

// The quoted field starting at `pos` (which must be '"'); `pos` moves past it.
bool Quoted(std::string_view line, std::size_t& pos, std::string_view& out) {
  if (pos >= line.size() || line[pos] != '"') return false;
  std::size_t end = line.find('"', pos + 1);
  if (end == std::string_view::npos) return false;
  out = line.substr(pos + 1, end - pos - 1);
  pos = end + 1;
  return true;
}

bool Space(std::string_view line, std::size_t& pos) {
  if (pos >= line.size() || line[pos] != ' ') return false;
  ++pos;
  return true;
}

// A token up to the next space.
std::string_view Token(std::string_view line, std::size_t& pos) {
  std::size_t end = line.find(' ', pos);
  if (end == std::string_view::npos) end = line.size();
  std::string_view out = line.substr(pos, end - pos);
  pos = end;
  return out;
}

}  // namespace

core::Result<CombinedLine> ParseCombinedLine(std::string_view line) {
  auto bad = [](std::string_view what) {
    return core::Status::InvalidArgument(fmt::format("not nginx's combined format: {}", what));
  };
  CombinedLine out;
  std::size_t pos = 0;
  out.address = std::string(Token(line, pos));
  if (out.address.empty() || !Space(line, pos)) return bad("no address");
  Token(line, pos);  // "-"
  if (!Space(line, pos)) return bad("no remote user");
  Token(line, pos);  // $remote_user
  if (!Space(line, pos) || pos >= line.size() || line[pos] != '[') return bad("no [time]");
  std::size_t close = line.find(']', pos);
  if (close == std::string_view::npos) return bad("no [time]");
  auto at = ParseLocalTime(line.substr(pos + 1, close - pos - 1));
  if (!at.ok()) return bad(at.status().message());
  out.at = *at;
  pos = close + 1;
  std::string_view request;
  if (!Space(line, pos) || !Quoted(line, pos, request)) return bad("no \"request\"");
  std::size_t r = 0;
  out.method = std::string(Token(request, r));
  if (!Space(request, r)) return bad("the request has no target");
  out.target = std::string(Token(request, r));
  if (out.method.empty() || out.target.empty() || out.target[0] != '/')
    return bad("the request has no target");
  if (!Space(line, pos)) return bad("no status");
  if (!Number(Token(line, pos), out.status) || out.status < 100 || out.status > 999) return bad("no status");
  if (!Space(line, pos)) return bad("no byte count");
  std::string_view bytes = Token(line, pos);
  auto [ptr, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), out.bytes);
  if (ec != std::errc() || ptr != bytes.data() + bytes.size() || out.bytes < 0) return bad("no byte count");
  std::string_view referer, agent;
  if (!Space(line, pos) || !Quoted(line, pos, referer)) return bad("no \"referer\"");
  if (!Space(line, pos) || !Quoted(line, pos, agent)) return bad("no \"user agent\"");
  out.user_agent = std::string(agent);
  return out;
}

core::Result<AccessLogImport> ImportAccessLog(std::istream& in, const AccessLogImportOptions& options,
                                              OriginKeys& keys, store::Store& store) {
  AccessLogImport result;
  std::vector<store::RequestLogRow> rows;
  auto flush = [&]() -> core::Status {
    if (rows.empty()) return core::Status::Ok();
    result.imported += static_cast<std::int64_t>(rows.size());
    return store.AppendRequestLogSync(std::exchange(rows, {}));
  };
  auto malformed = [&](std::string why) {
    result.malformed++;
    if (result.malformed_examples.size() < kMaxExamples)
      result.malformed_examples.push_back(fmt::format("line {}: {}", result.lines, why));
  };
  std::string line;
  while (std::getline(in, line)) {
    result.lines++;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.size() > kMaxLine) {
      malformed(fmt::format("longer than {} bytes", kMaxLine));
      continue;
    }
    auto parsed = ParseCombinedLine(line);
    if (!parsed.ok()) {
      malformed(parsed.status().message());
      continue;
    }
    std::string_view target = parsed->target;
    target = target.substr(0, target.find('?'));
    if (!target.starts_with(options.prefix)) {
      result.outside_prefix++;
      continue;
    }
    std::string path(target.substr(options.prefix.size()));
    std::string ecosystem = options.ecosystem;
    if (ecosystem.empty())
      ecosystem = path.starts_with("simple/") || path.starts_with("packages/") ? "pypi" : "npm";
    // A PyPI mirror serves files below packages/ (the file host's layout); the gateway's
    // form names the project: files/<project>/<path>.
    if (ecosystem == "pypi" && !path.starts_with("simple/") && !path.starts_with("files/")) {
      std::string_view file = std::string_view(path).substr(path.rfind('/') + 1);
      if (file.ends_with(".metadata")) file.remove_suffix(9);
      if (auto project = PypiFileVersion(file); project.ok())
        path = "files/" + project->first.name + "/" + path;
    }
    store::RequestLogRow row;
    row.at = parsed->at;
    row.ecosystem = std::move(ecosystem);
    row.method = std::move(parsed->method);
    row.path = std::move(path);
    row.status = parsed->status;
    row.bytes = parsed->bytes;
    row.origin = keys.Key(parsed->address, parsed->at);
    ClientInfo client = ReduceUserAgent(parsed->user_agent);
    row.tool = std::move(client.tool);
    row.tool_version = std::move(client.tool_version);
    row.runtime = std::move(client.runtime);
    row.os = std::move(client.os);
    row.ci = client.ci;
    row.source = "import";
    rows.push_back(std::move(row));
    if (rows.size() >= options.batch_rows)
      if (auto s = flush(); !s.ok()) return s;
  }
  if (auto s = flush(); !s.ok()) return s;
  return result;
}

}  // namespace pkgtrust::adoption
