#include "pkgtrust/bus/filter_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "pkgtrust/core/json_limits.hpp"

namespace pkgtrust::bus {
namespace {

using core::Result;
using core::Status;
using Json = nlohmann::json;

constexpr std::size_t kMaxKeys = 5;
constexpr double kMaxCombinations = 150;
constexpr double kMaxNumeric = 1e9;
constexpr double kNumericEpsilon = 1e-6;  // SNS compares numbers to 5 decimal places

struct Condition {
  enum class Kind {
    kExactString,
    kExactNumber,
    kExactBool,
    kExactNull,
    kPrefix,
    kSuffix,
    kEqualsIgnoreCase,
    kAnythingBut,
    kAnythingButPrefix,
    kAnythingButSuffix,
    kNumeric,
    kExists,
  };
  Kind kind = Kind::kExactString;
  std::string text;                  // exact string, prefix, suffix, lower-cased ignore-case value
  double number = 0;                 // exact number
  bool flag = false;                 // exact boolean, exists value
  std::vector<std::string> strings;  // anything-but values
  std::vector<double> numbers;
  bool has_lower = false, lower_inclusive = false, has_upper = false, upper_inclusive = false;
  double lower = 0, upper = 0;
};

struct KeyRule {
  std::string key;
  std::vector<Condition> conditions;
  bool accepts_absent = false;  // has {"exists": false}
};

struct Clause {
  std::vector<KeyRule> rules;               // all must match
  std::vector<std::vector<Clause>> any_of;  // each "$or": one alternative must match
};

// One value of an attribute, typed as SNS sees it.
struct Element {
  enum class Type { kString, kNumber, kBool, kNull } type = Type::kString;
  std::string_view text;
  double number = 0;
  bool flag = false;
};

bool NumbersEqual(double a, double b) { return std::fabs(a - b) < kNumericEpsilon; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool ParseNumber(std::string_view text, double* out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return false;
  if (text.front() == '+') text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(*out);
}

bool ElementMatches(const Condition& c, const Element& e) {
  using K = Condition::Kind;
  using T = Element::Type;
  switch (c.kind) {
    case K::kExactString:
      return e.type == T::kString && e.text == c.text;
    case K::kExactNumber:
      return e.type == T::kNumber && NumbersEqual(e.number, c.number);
    case K::kExactBool:
      return e.type == T::kBool && e.flag == c.flag;
    case K::kExactNull:
      return e.type == T::kNull;
    case K::kPrefix:
      return e.type == T::kString && e.text.starts_with(c.text);
    case K::kSuffix:
      return e.type == T::kString && e.text.ends_with(c.text);
    case K::kEqualsIgnoreCase:
      return e.type == T::kString && Lower(e.text) == c.text;
    case K::kAnythingBut:
      if (e.type == T::kString)
        return std::find(c.strings.begin(), c.strings.end(), e.text) == c.strings.end();
      if (e.type == T::kNumber)
        return std::none_of(c.numbers.begin(), c.numbers.end(),
                            [&](double n) { return NumbersEqual(n, e.number); });
      return true;
    case K::kAnythingButPrefix:
      return e.type == T::kString && !e.text.starts_with(c.text);
    case K::kAnythingButSuffix:
      return e.type == T::kString && !e.text.ends_with(c.text);
    case K::kNumeric:
      if (e.type != T::kNumber) return false;
      if (c.has_lower &&
          (c.lower_inclusive ? e.number < c.lower - kNumericEpsilon : e.number <= c.lower + kNumericEpsilon))
        return false;
      if (c.has_upper &&
          (c.upper_inclusive ? e.number > c.upper + kNumericEpsilon : e.number >= c.upper - kNumericEpsilon))
        return false;
      return true;
    case K::kExists:
      return false;  // decided per key, not per element
  }
  return false;
}

bool AnyElementMatches(const KeyRule& rule, const AttributeValue& value) {
  auto match_one = [&](const Element& e) {
    for (const Condition& c : rule.conditions)
      if (ElementMatches(c, e)) return true;
    return false;
  };
  switch (value.type) {
    case AttributeType::kString:
      return match_one({Element::Type::kString, value.value, 0, false});
    case AttributeType::kNumber: {
      Element e{Element::Type::kNumber, {}, 0, false};
      return ParseNumber(value.value, &e.number) && match_one(e);
    }
    case AttributeType::kStringArray: {
      if (!core::JsonNestingWithin(value.value)) return false;
      Json array = Json::parse(value.value, nullptr, /*allow_exceptions=*/false);
      if (!array.is_array()) return false;
      for (const Json& item : array) {
        Element e;
        std::string text_holder;
        if (item.is_string()) {
          text_holder = item.get<std::string>();
          e = {Element::Type::kString, text_holder, 0, false};
        } else if (item.is_number()) {
          e = {Element::Type::kNumber, {}, item.get<double>(), false};
        } else if (item.is_boolean()) {
          e = {Element::Type::kBool, {}, 0, item.get<bool>()};
        } else if (item.is_null()) {
          e = {Element::Type::kNull, {}, 0, false};
        } else {
          continue;
        }
        if (match_one(e)) return true;
      }
      return false;
    }
  }
  return false;
}

bool RuleMatches(const KeyRule& rule, const Attributes& attributes) {
  const AttributeValue* value = attributes.Find(rule.key);
  if (value == nullptr) return rule.accepts_absent && !attributes.empty();
  for (const Condition& c : rule.conditions)
    if (c.kind == Condition::Kind::kExists && c.flag && !value->value.empty()) return true;
  return AnyElementMatches(rule, *value);
}

bool ClauseMatches(const Clause& clause, const Attributes& attributes) {
  for (const KeyRule& rule : clause.rules)
    if (!RuleMatches(rule, attributes)) return false;
  for (const auto& alternatives : clause.any_of) {
    bool any = std::any_of(alternatives.begin(), alternatives.end(),
                           [&](const Clause& alt) { return ClauseMatches(alt, attributes); });
    if (!any) return false;
  }
  return true;
}

// ---- parsing -------------------------------------------------------------------------

struct ParseError {
  std::string key;
  std::string message;
};

Status NumberInRange(double value) {
  if (value < -kMaxNumeric || value > kMaxNumeric)
    return Status::InvalidArgument(fmt::format("numeric value {} is outside -1e9..1e9", value));
  return Status::Ok();
}

Result<Condition> ParseNumeric(const Json& terms) {
  Condition c;
  c.kind = Condition::Kind::kNumeric;
  if (!terms.is_array() || (terms.size() != 2 && terms.size() != 4))
    return Status::InvalidArgument(
        "\"numeric\" takes [operator, value] or [lower-operator, value, upper-operator, value]");
  for (std::size_t i = 0; i < terms.size(); i += 2) {
    if (!terms[i].is_string())
      return Status::InvalidArgument("\"numeric\" expression must alternate operator and value");
    if (!terms[i + 1].is_number())
      return Status::InvalidArgument(
          fmt::format("value after \"{}\" must be a number", terms[i].get<std::string>()));
    std::string op = terms[i].get<std::string>();
    double value = terms[i + 1].get<double>();
    if (Status s = NumberInRange(value); !s.ok()) return s;
    if (op == "=") {
      if (terms.size() != 2) return Status::InvalidArgument("\"=\" cannot be part of a numeric range");
      c.has_lower = c.has_upper = c.lower_inclusive = c.upper_inclusive = true;
      c.lower = c.upper = value;
    } else if (op == ">" || op == ">=") {
      if (i != 0) return Status::InvalidArgument("a numeric range gives the lower bound first");
      c.has_lower = true;
      c.lower_inclusive = op == ">=";
      c.lower = value;
    } else if (op == "<" || op == "<=") {
      if (c.has_upper) return Status::InvalidArgument("a numeric range has one upper bound");
      if (i == 0 && terms.size() == 4)
        return Status::InvalidArgument("a numeric range gives the lower bound first");
      c.has_upper = true;
      c.upper_inclusive = op == "<=";
      c.upper = value;
    } else {
      return Status::InvalidArgument(
          fmt::format("unknown numeric operator \"{}\" (expected =, <, <=, >, >=)", op));
    }
  }
  if (c.has_lower && c.has_upper && c.lower >= c.upper &&
      !(c.lower_inclusive && c.upper_inclusive && c.lower == c.upper))
    return Status::InvalidArgument("numeric range: the lower bound must be below the upper bound");
  return c;
}

Result<Condition> ParseAnythingBut(const Json& value) {
  Condition c;
  c.kind = Condition::Kind::kAnythingBut;
  auto add = [&](const Json& v) -> Status {
    if (v.is_string())
      c.strings.push_back(v.get<std::string>());
    else if (v.is_number())
      c.numbers.push_back(v.get<double>());
    else
      return Status::InvalidArgument("\"anything-but\" values must be strings or numbers");
    return Status::Ok();
  };
  if (value.is_object()) {
    if (value.size() != 1)
      return Status::InvalidArgument("\"anything-but\" object takes one of \"prefix\", \"suffix\"");
    auto it = value.begin();
    if (!it.value().is_string() || it.value().get<std::string>().empty())
      return Status::InvalidArgument(
          fmt::format("\"anything-but\" \"{}\" must be a non-empty string", it.key()));
    if (it.key() == "prefix")
      c.kind = Condition::Kind::kAnythingButPrefix;
    else if (it.key() == "suffix")
      c.kind = Condition::Kind::kAnythingButSuffix;
    else
      return Status::InvalidArgument(fmt::format("unknown \"anything-but\" operator \"{}\"", it.key()));
    c.text = it.value().get<std::string>();
    return c;
  }
  if (value.is_array()) {
    if (value.empty()) return Status::InvalidArgument("\"anything-but\" list is empty");
    for (const Json& v : value)
      if (Status s = add(v); !s.ok()) return s;
    return c;
  }
  if (Status s = add(value); !s.ok()) return s;
  return c;
}

Result<Condition> ParseCondition(const Json& item) {
  Condition c;
  using K = Condition::Kind;
  if (item.is_string()) {
    c.kind = K::kExactString;
    c.text = item.get<std::string>();
    return c;
  }
  if (item.is_number()) {
    c.kind = K::kExactNumber;
    c.number = item.get<double>();
    if (Status s = NumberInRange(c.number); !s.ok()) return s;
    return c;
  }
  if (item.is_boolean()) {
    c.kind = K::kExactBool;
    c.flag = item.get<bool>();
    return c;
  }
  if (item.is_null()) {
    c.kind = K::kExactNull;
    return c;
  }
  if (!item.is_object())
    return Status::InvalidArgument("match values must be strings, numbers, booleans, null or operators");
  if (item.size() != 1) return Status::InvalidArgument("an operator object holds exactly one operator");
  auto it = item.begin();
  const std::string& op = it.key();
  const Json& arg = it.value();
  auto string_arg = [&](K kind) -> Result<Condition> {
    if (!arg.is_string()) return Status::InvalidArgument(fmt::format("\"{}\" takes a string", op));
    c.kind = kind;
    c.text = kind == K::kEqualsIgnoreCase ? Lower(arg.get<std::string>()) : arg.get<std::string>();
    return c;
  };
  if (op == "prefix") return string_arg(K::kPrefix);
  if (op == "suffix") return string_arg(K::kSuffix);
  if (op == "equals-ignore-case") return string_arg(K::kEqualsIgnoreCase);
  if (op == "anything-but") return ParseAnythingBut(arg);
  if (op == "numeric") return ParseNumeric(arg);
  if (op == "exists") {
    if (!arg.is_boolean()) return Status::InvalidArgument("\"exists\" takes true or false");
    c.kind = K::kExists;
    c.flag = arg.get<bool>();
    return c;
  }
  return Status::InvalidArgument(fmt::format(
      "unknown operator \"{}\" (SNS has prefix, suffix, equals-ignore-case, anything-but, numeric, exists)",
      op));
}

bool ParseClause(const Json& object, Clause* out, ParseError* error) {
  if (!object.is_object()) {
    error->message = "a filter policy is a JSON object";
    return false;
  }
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    const Json& value = it.value();
    if (key == "$or") {
      if (!value.is_array() || value.size() < 2) {
        *error = {key, "\"$or\" takes a list of at least two policies"};
        return false;
      }
      std::vector<Clause> alternatives(value.size());
      for (std::size_t i = 0; i < value.size(); ++i)
        if (!ParseClause(value[i], &alternatives[i], error)) return false;
      out->any_of.push_back(std::move(alternatives));
      continue;
    }
    if (value.is_object()) {
      *error = {key, "nested policies apply to message bodies, not to message attributes"};
      return false;
    }
    if (!value.is_array()) {
      *error = {key, "the value of a key is a list, e.g. [\"value\"]"};
      return false;
    }
    if (value.empty()) {
      *error = {key, "the list of values is empty"};
      return false;
    }
    KeyRule rule;
    rule.key = key;
    for (const Json& item : value) {
      auto condition = ParseCondition(item);
      if (!condition.ok()) {
        *error = {key, condition.status().message()};
        return false;
      }
      if (condition->kind == Condition::Kind::kExists && !condition->flag) rule.accepts_absent = true;
      rule.conditions.push_back(std::move(condition).value());
    }
    out->rules.push_back(std::move(rule));
  }
  return true;
}

// Keys along the widest expanded branch, and the SNS "combinations" count.
void Measure(const Clause& clause, std::size_t* keys, double* combinations) {
  *keys = clause.rules.size();
  *combinations = 1;
  for (const KeyRule& rule : clause.rules) *combinations *= static_cast<double>(rule.conditions.size());
  for (const auto& alternatives : clause.any_of) {
    std::size_t widest = 0;
    double sum = 0;
    for (const Clause& alt : alternatives) {
      std::size_t k;
      double c;
      Measure(alt, &k, &c);
      widest = std::max(widest, k);
      sum += c;
    }
    *keys += widest;
    *combinations *= sum;
  }
}

}  // namespace

struct FilterPolicy::Rep {
  Clause root;
  std::string json;
};

FilterPolicy::FilterPolicy() : rep_(std::make_shared<Rep>(Rep{Clause{}, "{}"})) {}
FilterPolicy::~FilterPolicy() = default;
FilterPolicy::FilterPolicy(const FilterPolicy&) = default;
FilterPolicy& FilterPolicy::operator=(const FilterPolicy&) = default;
FilterPolicy::FilterPolicy(FilterPolicy&&) noexcept = default;
FilterPolicy& FilterPolicy::operator=(FilterPolicy&&) noexcept = default;

Result<FilterPolicy> FilterPolicy::Parse(std::string_view json_text, std::string* error_key) {
  if (!core::JsonNestingWithin(json_text))
    return Status::InvalidArgument(
        fmt::format("filter policy nests deeper than {} levels", core::kMaxJsonDepth));
  Json parsed = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status::InvalidArgument("filter policy is not valid JSON");
  auto rep = std::make_shared<Rep>();
  ParseError error;
  if (!ParseClause(parsed, &rep->root, &error)) {
    if (error_key) *error_key = error.key;
    if (error.key.empty()) return Status::InvalidArgument(error.message);
    return Status::InvalidArgument(fmt::format("filter policy key \"{}\": {}", error.key, error.message));
  }
  std::size_t keys;
  double combinations;
  Measure(rep->root, &keys, &combinations);
  if (keys > kMaxKeys) return Status::InvalidArgument("filter policy has more than 5 keys (SNS limit)");
  if (combinations > kMaxCombinations)
    return Status::InvalidArgument(
        fmt::format("filter policy has {} combinations; SNS allows 150", combinations));
  rep->json = parsed.dump();
  FilterPolicy policy;
  policy.rep_ = std::move(rep);
  return policy;
}

bool FilterPolicy::Matches(const Attributes& attributes) const {
  return ClauseMatches(rep_->root, attributes);
}

const std::string& FilterPolicy::json() const { return rep_->json; }

}  // namespace pkgtrust::bus
