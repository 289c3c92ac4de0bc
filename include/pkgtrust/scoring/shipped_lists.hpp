// The popular-package lists compiled into the binary (data/popular/, generated from
// src/scoring/shipped_lists.cpp.in by CMake), so that every command checks typosquats
// wherever it runs, with no file to find; the popular-package backfill walks them too.
#pragma once

#include <string_view>

#include "pkgtrust/core/ecosystem.hpp"

namespace pkgtrust::scoring {

// The list's text ("name<TAB>number" lines); empty for ecosystems without one.
std::string_view ShippedPopularList(core::Ecosystem ecosystem);

}  // namespace pkgtrust::scoring
