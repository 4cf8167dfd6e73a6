// load_skeleton's order (configure before load) and its errors, on a stand-in for a bpftool
// skeleton; the real ones are loaded by every fixture and attach test.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.h"
#include "loader/skeleton.h"

namespace qpspread::test {
namespace {

struct FakeSkel {
  bpf_object* obj = nullptr;
  int rodata = 0;
};

int g_destroyed = 0;
int g_load_err = 0;
int g_rodata_at_load = -1;

FakeSkel* fake_open() { return new FakeSkel; }
FakeSkel* fake_open_fails() {
  errno = ENOENT;
  return nullptr;
}
int fake_load(FakeSkel* s) {
  g_rodata_at_load = s->rodata;
  return g_load_err;
}
void fake_destroy(FakeSkel* s) {
  g_destroyed++;
  delete s;
}

class LoadSkeleton : public ::testing::Test {
 protected:
  void SetUp() override {
    g_destroyed = 0;
    g_load_err = 0;
    g_rodata_at_load = -1;
  }
  static std::string error_of(const SkeletonOps<FakeSkel>& ops, const std::string& pin_dir) {
    try {
      load_skeleton(ops, pin_dir);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(LoadSkeleton, ConfiguresBeforeLoadAndDestroysOnce) {
  {
    auto skel = load_skeleton(SkeletonOps<FakeSkel>{fake_open, fake_load, fake_destroy, "fake"}, "",
                              [](FakeSkel& s) { s.rodata = 7; });
    EXPECT_EQ(g_rodata_at_load, 7);
    EXPECT_EQ(g_destroyed, 0);
  }
  EXPECT_EQ(g_destroyed, 1);
}

TEST_F(LoadSkeleton, AFailedOpenNamesTheObject) {
  const std::string msg = error_of({fake_open_fails, fake_load, fake_destroy, "fake"}, "");
  EXPECT_NE(msg.find("cannot open the fake BPF object"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::strerror(ENOENT)), std::string::npos) << msg;
}

TEST_F(LoadSkeleton, AFailedLoadNamesTheProgramDestroysItAndSaysWhatToTry) {
  g_load_err = -EPERM;
  std::string msg = error_of({fake_open, fake_load, fake_destroy, "fake"}, "");
  EXPECT_NE(msg.find("cannot load the fake program"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(run as root)"), std::string::npos) << msg;
  EXPECT_EQ(g_destroyed, 1);

  g_load_err = -EINVAL;
  msg = error_of({fake_open, fake_load, fake_destroy, "fake"}, "");
  EXPECT_NE(msg.find("rerun with -v"), std::string::npos) << msg;
}

TEST_F(LoadSkeleton, HintNamesStalePinsWhenThereArePins) {
  const std::string hint = load_hint(-EINVAL, "/sys/fs/bpf/qpspread/4026531840");
  EXPECT_NE(hint.find("pins in /sys/fs/bpf/qpspread/4026531840"), std::string::npos) << hint;
  EXPECT_NE(hint.find("qpspread detach"), std::string::npos) << hint;
}

}  // namespace
}  // namespace qpspread::test
