// A topology with one queue per stage topic, for tests that drive the pipeline's messages
// by hand on a memory transport.
#pragma once

#include "pkgtrust/bus/topology.hpp"

namespace pkgtrust::testing {

inline bus::Topology OneQueuePerStageTopic() {
  bus::Topology t;
  for (const char* topic : {"parse_registry", "parse_repo", "score_package"})
    t.queues.push_back({topic, {topic}, {}});
  return t;
}

}  // namespace pkgtrust::testing
