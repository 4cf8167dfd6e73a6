// The one exception type of the library: a message for the user that names the object concerned
// and, where there is one, the next step.
#pragma once

#include <stdexcept>
#include <string>

namespace qpspread {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input the user gave (a file's key or value) found before anything was touched: the CLI exits
// 2 for it, as for a bad flag.
class UsageError : public Error {
 public:
  using Error::Error;
};

// "what: strerror(err)"; err is a positive or negative errno value.
std::string errno_text(const std::string& what, int err);

}  // namespace qpspread
