// RAFTKV_RETURN_IF_NOT_OK(expr): returns the absl::Status `expr` from the
// enclosing function unless it is OK (abseil 20220623 has no public macro).
#ifndef RAFTKV_KV_STATUS_MACROS_H_
#define RAFTKV_KV_STATUS_MACROS_H_

#include "absl/status/status.h"

#define RAFTKV_RETURN_IF_NOT_OK(expr)                \
  do {                                               \
    ::absl::Status raftkv_status_ = (expr);          \
    if (!raftkv_status_.ok()) return raftkv_status_; \
  } while (0)

#endif  // RAFTKV_KV_STATUS_MACROS_H_
