// Request paths below the gateway's prefixes: packuments (both spellings of a scoped name),
// tarballs and their versions, npm audit, PyPI project pages and files; and every path that
// could climb out or smuggle a name refused with its reason.
#include "pkgtrust/gateway/requests.hpp"

#include <catch2/catch.hpp>

using namespace pkgtrust;
using Npm = gateway::NpmRequest::Kind;
using Pypi = gateway::PypiRequest::Kind;

TEST_CASE("gateway requests: npm packuments, tarballs and audit", "[gateway]") {
  auto plain = gateway::ParseNpmRequest("left-pad");
  REQUIRE(plain.ok());
  CHECK(plain->kind == Npm::kPackument);
  CHECK(plain->key.name == "left-pad");
  CHECK(plain->upstream_path == "left-pad");
  for (std::string_view spelling : {"@scope%2fname", "@scope%2Fname", "@scope/name"}) {
    INFO(spelling);
    auto scoped = gateway::ParseNpmRequest(spelling);
    REQUIRE(scoped.ok());
    CHECK(scoped->kind == Npm::kPackument);
    CHECK(scoped->name == "@scope/name");
    CHECK(scoped->upstream_path == "@scope%2fname");
  }
  auto tarball = gateway::ParseNpmRequest("left-pad/-/left-pad-1.3.0.tgz");
  REQUIRE(tarball.ok());
  CHECK(tarball->kind == Npm::kTarball);
  CHECK(tarball->version == "1.3.0");
  CHECK(tarball->upstream_path == "left-pad/-/left-pad-1.3.0.tgz");
  auto scoped_tarball = gateway::ParseNpmRequest("@scope/name/-/name-2.0.0-beta.1.tgz");
  REQUIRE(scoped_tarball.ok());
  CHECK(scoped_tarball->version == "2.0.0-beta.1");
  CHECK(scoped_tarball->upstream_path == "@scope/name/-/name-2.0.0-beta.1.tgz");
  CHECK(gateway::ParseNpmRequest("-/npm/v1/security/advisories/bulk")->kind == Npm::kAudit);
}

TEST_CASE("gateway requests: npm paths that climb, smuggle or misname are refused", "[gateway]") {
  for (std::string_view bad :
       {"", "..", "left-pad%2f..%2f..%2fetc", "left-pad/-/../../x.tgz", "left-pad/-/other-1.0.0.tgz",
        "left-pad/-/left-pad-.tgz", "left-pad/x", "@scope", "a b", "left-pad/-/left-pad-1.0.0.tgz%00", "%zz",
        "left-pad/-/left-pad-1.0.0.zip",
        // a version no advisory could name; an escaped separator meant for the upstream
        "evil/-/evil-1.0.0.tgz%3F.tgz", "foo/-/foo-1%252f..%252fevil-1.0.0.tgz"}) {
    INFO(bad);
    CHECK_FALSE(gateway::ParseNpmRequest(bad).ok());
  }
  CHECK(gateway::ParseNpmRequest("left-pad/-/other-1.0.0.tgz").status().message() ==
        "not a tarball of left-pad: 'left-pad/-/other-1.0.0.tgz'");
}

TEST_CASE("gateway requests: PyPI project pages in any spelling, files and their metadata", "[gateway]") {
  for (std::string_view spelling : {"simple/Django_Rest.Framework/", "simple/django-rest-framework"}) {
    INFO(spelling);
    auto page = gateway::ParsePypiRequest(spelling);
    REQUIRE(page.ok());
    CHECK(page->kind == Pypi::kProjectPage);
    CHECK(page->upstream_path == "simple/django-rest-framework/");
  }
  auto file = gateway::ParsePypiRequest("files/NumPy/packages/aa/bb/numpy-1.5.1.tar.gz");
  REQUIRE(file.ok());
  CHECK(file->kind == Pypi::kFile);
  CHECK(file->key.name == "numpy");
  CHECK(file->filename == "numpy-1.5.1.tar.gz");
  CHECK(file->upstream_path == "packages/aa/bb/numpy-1.5.1.tar.gz");
  CHECK_FALSE(file->metadata);
  auto metadata = gateway::ParsePypiRequest("files/numpy/packages/aa/numpy-1.5.1-py3-none-any.whl.metadata");
  REQUIRE(metadata.ok());
  CHECK(metadata->metadata);
  CHECK(metadata->filename == "numpy-1.5.1-py3-none-any.whl");
}

TEST_CASE("gateway requests: PyPI paths that climb or misname are refused", "[gateway]") {
  for (std::string_view bad :
       {"simple/", "simple/../../etc/", "simple/a%2fb/", "files/", "files/../x.whl", "files/x.whl",
        "files/numpy/packages/%2e%2e/x.whl", "files/numpy/packages//x.whl", "files/-bad-/packages/x.whl",
        "files/numpy/packages%2f..%2fx.whl", "other/x", "simple/-bad-/"}) {
    INFO(bad);
    CHECK_FALSE(gateway::ParsePypiRequest(bad).ok());
  }
}
