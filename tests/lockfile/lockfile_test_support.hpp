// Reading the lockfile fixtures (tests/fixtures/lockfiles/, sources in its README and
// SOURCES.md files) in the lockfile tests.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pkgtrust/lockfile/lockfile.hpp"

namespace pkgtrust::testing {

inline std::string LockfileFixturePath(const std::string& relative) {
  return std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/lockfiles/" + relative;
}

inline lockfile::LockfileInput LockfileFixture(const std::string& relative) {
  lockfile::LockfileInput input;
  input.path = LockfileFixturePath(relative);
  std::ifstream in(input.path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  input.text = text.str();
  std::filesystem::path folder = std::filesystem::path(input.path).parent_path();
  input.read_relative = [folder](const std::string& name) -> core::Result<std::string> {
    std::ifstream file(folder / name, std::ios::binary);
    if (!file) return core::Status::NotFound("cannot open " + (folder / name).string());
    std::ostringstream content;
    content << file.rdbuf();
    return content.str();
  };
  return input;
}

// Parses a fixture that must parse.
inline std::vector<lockfile::LockedDependency> ParseFixture(lockfile::Format format,
                                                            const std::string& relative) {
  auto parsed = lockfile::ParseLockfile(format, LockfileFixture(relative));
  INFO(relative << ": " << parsed.status().message());
  REQUIRE(parsed.ok());
  return *parsed;
}

// The error message of a fixture that must not parse.
inline std::string ParseFixtureError(lockfile::Format format, const std::string& relative) {
  auto parsed = lockfile::ParseLockfile(format, LockfileFixture(relative));
  REQUIRE_FALSE(parsed.ok());
  return parsed.status().message();
}

// "pkg:npm/%40babel/core@7.0.0" for each dependency, in order.
inline std::vector<std::string> PurlsOf(const std::vector<lockfile::LockedDependency>& dependencies) {
  std::vector<std::string> purls;
  for (const auto& dependency : dependencies) purls.push_back(core::FormatPurl(dependency.purl));
  return purls;
}

inline const lockfile::LockedDependency* FindDependency(
    const std::vector<lockfile::LockedDependency>& dependencies, const std::string& purl) {
  for (const auto& dependency : dependencies)
    if (core::FormatPurl(dependency.purl) == purl) return &dependency;
  return nullptr;
}

// The dependency with this purl, which must be there.
inline const lockfile::LockedDependency& RequireDependency(
    const std::vector<lockfile::LockedDependency>& dependencies, const std::string& purl) {
  const lockfile::LockedDependency* found = FindDependency(dependencies, purl);
  INFO(purl);
  REQUIRE(found != nullptr);
  return *found;
}

// Parses text that is not a fixture file as the file `path` (which error messages and each
// dependency's `file` give), with the files it may include, by relative name.
inline core::Result<std::vector<lockfile::LockedDependency>> ParseText(
    lockfile::Format format, const std::string& path, std::string text,
    std::map<std::string, std::string> others = {}) {
  lockfile::LockfileInput input;
  input.path = path;
  input.text = std::move(text);
  input.read_relative = [others = std::move(others)](const std::string& name) -> core::Result<std::string> {
    auto found = others.find(name);
    if (found == others.end()) return core::Status::NotFound("no such file: " + name);
    return found->second;
  };
  return lockfile::ParseLockfile(format, input);
}

// Each dependency's line, in order.
inline std::vector<int> LinesOf(const std::vector<lockfile::LockedDependency>& dependencies) {
  std::vector<int> lines;
  for (const auto& dependency : dependencies) lines.push_back(dependency.line);
  return lines;
}

// Each dependency's note ("dev", "indirect", ...; empty for none), in order.
inline std::vector<std::string> NotesOf(const std::vector<lockfile::LockedDependency>& dependencies) {
  std::vector<std::string> notes;
  for (const auto& dependency : dependencies) notes.push_back(dependency.note);
  return notes;
}

}  // namespace pkgtrust::testing
