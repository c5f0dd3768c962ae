// ChunkedVector: indexes across chunks, addresses that never move, and every
// element destroyed once.
#include "gateway/core/chunked_vector.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace precall::core {
namespace {

struct Counted {
  Counted(int v, int& destroyed_count) : value(v), destroyed(&destroyed_count) {}
  Counted(const Counted&) = delete;
  ~Counted() { ++*destroyed; }
  int value;
  int* destroyed;
};

TEST(ChunkedVectorTest, ElementsStayWhereTheyWereBuilt) {
  ChunkedVector<std::string, 2> v;  // chunks of 4
  std::vector<const std::string*> addresses;
  for (int i = 0; i < 37; ++i) {
    std::string& s = v.emplace_back("element " + std::to_string(i) + " of a long enough text");
    EXPECT_EQ(&s, &v.back());
    addresses.push_back(&s);
  }
  ASSERT_EQ(v.size(), 37u);
  for (int i = 0; i < 37; ++i) {
    EXPECT_EQ(&v[static_cast<std::size_t>(i)], addresses[static_cast<std::size_t>(i)]);
    EXPECT_EQ(v[static_cast<std::size_t>(i)],
              "element " + std::to_string(i) + " of a long enough text");
  }
}

TEST(ChunkedVectorTest, DestroysEveryElementOnce) {
  int destroyed = 0;
  {
    ChunkedVector<Counted, 3> v;
    EXPECT_TRUE(v.empty());
    for (int i = 0; i < 20; ++i) v.emplace_back(i, destroyed);
    EXPECT_EQ(v[19].value, 19);
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 20);
}

}  // namespace
}  // namespace precall::core
