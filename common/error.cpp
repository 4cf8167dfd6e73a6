#include "common/error.h"

#include <cstdlib>
#include <cstring>

namespace qpspread {

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(std::abs(err));
}

}  // namespace qpspread
