// The kernel release parsed, and the warning attach gives on kernels 6.16 to 6.18.3.
#include <gtest/gtest.h>

#include "loader/kernel_version.h"

namespace qpspread {
namespace {

TEST(KernelVersion, ReleasesParse) {
  EXPECT_EQ(parse_kernel_release("6.18.44-fc-v1045"), (KernelVersion{6, 18, 44}));
  EXPECT_EQ(parse_kernel_release("6.1.0-27-amd64"), (KernelVersion{6, 1, 0}));
  EXPECT_EQ(parse_kernel_release("6.16-rc3"), (KernelVersion{6, 16, 0}));
  EXPECT_FALSE(parse_kernel_release("linux").has_value());
  EXPECT_TRUE(running_kernel().has_value());
}

TEST(KernelVersion, TheMultipathSourceBugIsWarnedAboutOnlyWhereItIs) {
  for (const KernelVersion v : {KernelVersion{6, 16, 0}, KernelVersion{6, 17, 9}, KernelVersion{6, 18, 3}}) {
    const auto w = multipath_source_warning(v);
    ASSERT_TRUE(w.has_value()) << v.major << "." << v.minor << "." << v.patch;
    EXPECT_NE(w->find("6e17474aa9fe"), std::string::npos);
  }
  for (const KernelVersion v : {KernelVersion{6, 15, 11}, KernelVersion{6, 18, 4}, KernelVersion{6, 18, 44}, KernelVersion{7, 0, 0}})
    EXPECT_FALSE(multipath_source_warning(v).has_value()) << v.major << "." << v.minor << "." << v.patch;
}

}  // namespace
}  // namespace qpspread
