#include "pkgtrust/core/repository_url.hpp"

#include <catch2/catch.hpp>

using pkgtrust::core::ParseRepositoryUrl;
using pkgtrust::core::RepositoryFromGoModule;
using pkgtrust::core::RepositoryRef;

TEST_CASE("repository URLs in the spellings registries use are normalized", "[core]") {
  struct Case {
    const char* text;
    RepositoryRef want;
  } cases[] = {
      // npm
      {"git+https://github.com/lodash/lodash.git", {"github.com", "lodash", "lodash", ""}},
      {"git://github.com/chalk/chalk.git", {"github.com", "chalk", "chalk", ""}},
      {"git@github.com:isaacs/node-glob.git", {"github.com", "isaacs", "node-glob", ""}},
      {"github:moment/moment", {"github.com", "moment", "moment", ""}},
      {"expressjs/body-parser", {"github.com", "expressjs", "body-parser", ""}},
      {"https://github.com/babel/babel/tree/master/packages/babel-core",
       {"github.com", "babel", "babel", "packages/babel-core"}},
      {"https://www.github.com/DefinitelyTyped/DefinitelyTyped.git", {"github.com", "DefinitelyTyped", "DefinitelyTyped", ""}},
      {"http://bitbucket.org/nikhilm/uuidjs", {"bitbucket.org", "nikhilm", "uuidjs", ""}},
      {"https://github.com/o/r#readme", {"github.com", "o", "r", ""}},
      // Maven SCM
      {"scm:git:https://www.github.com/child-scm/child", {"github.com", "child-scm", "child", ""}},
      {"scm:git:ssh://git@github.com/eclipse-ee4j/jaxb-ri", {"github.com", "eclipse-ee4j", "jaxb-ri", ""}},
      {"scm:git:git@github.com:mockk/mockk.git", {"github.com", "mockk", "mockk", ""}},
      {"git@github.com/child-scm/child", {"github.com", "child-scm", "child", ""}},
      {"scm:git:git://www.github.com/parent/repo", {"github.com", "parent", "repo", ""}},
      {"scm:https://github.com/example/test/tree/${project.scm.tag}", {"github.com", "example", "test", ""}},
      {"github.com/gin-gonic/gin", {"github.com", "gin-gonic", "gin", ""}},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto ref = ParseRepositoryUrl(c.text);
    REQUIRE(ref.has_value());
    CHECK(*ref == c.want);
  }
  auto with_dir = ParseRepositoryUrl("https://github.com/angular/angular.git", "packages/core/");
  REQUIRE(with_dir);
  CHECK(with_dir->subdirectory == "packages/core");
  CHECK(with_dir->Url() == "https://github.com/angular/angular");
}

TEST_CASE("text that names no repository gives none", "[core]") {
  for (const char* text : {"", "npm/security-holder-but-no/host/x:y:z", "https://github.com/", "https://github.com/onlyowner",
                           "scm:svn:", "not a url at all", "javascript:alert(1)", "https://github.com/o/r r"}) {
    INFO(text);
    CHECK_FALSE(ParseRepositoryUrl(text).has_value());
  }
  // npm's security holders declare "npm/security-holder": a real (GitHub) shorthand.
  CHECK(ParseRepositoryUrl("npm/security-holder")->Url() == "https://github.com/npm/security-holder");
}

TEST_CASE("go module paths map to their repository", "[core]") {
  CHECK(*RepositoryFromGoModule("github.com/gin-gonic/gin") == RepositoryRef{"github.com", "gin-gonic", "gin", ""});
  CHECK(*RepositoryFromGoModule("github.com/go-gorp/gorp/v3") == RepositoryRef{"github.com", "go-gorp", "gorp", ""});
  CHECK(*RepositoryFromGoModule("github.com/aws/aws-sdk-go-v2/service/s3") ==
        RepositoryRef{"github.com", "aws", "aws-sdk-go-v2", "service/s3"});
  CHECK_FALSE(RepositoryFromGoModule("gopkg.in/yaml.v3").has_value());
  CHECK_FALSE(RepositoryFromGoModule("github.com/onlyowner").has_value());
}
