// The store worker's promises: what it accepts it runs, even when stopping;
// past its queue limit it refuses rather than queue without bound.
#include "store_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace mayfly {
namespace {

TEST(StoreWorkerTest, RefusesPastItsQueueLimitAndRunsWhatItAcceptedBeforeStopping) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::vector<int> ran;  // written by the one worker thread only
  {
    StoreWorker worker(/*threads=*/1, /*queue_limit=*/2);
    ASSERT_TRUE(worker.Post([&] {
      started.set_value();
      released.wait();
      ran.push_back(0);
    }));
    started.get_future().wait();  // the thread is busy: what follows queues
    EXPECT_TRUE(worker.Post([&] { ran.push_back(1); }));
    EXPECT_TRUE(worker.Post([&] { ran.push_back(2); }));
    EXPECT_EQ(worker.queued(), 2u);
    EXPECT_FALSE(worker.Post([&] { ran.push_back(3); })) << "a third waiting task is over the limit";
    release.set_value();
  }  // the destructor runs what was queued, then joins
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));
}

TEST(StoreWorkerTest, RunsTasksOnSeveralThreadsAtOnce) {
  // Two tasks that each wait for the other can only finish on two threads.
  std::promise<void> first;
  std::promise<void> second;
  std::atomic<int> done{0};
  {
    StoreWorker worker(/*threads=*/2, /*queue_limit=*/8);
    ASSERT_TRUE(worker.Post([&] {
      first.set_value();
      second.get_future().wait();
      ++done;
    }));
    ASSERT_TRUE(worker.Post([&] {
      second.set_value();
      first.get_future().wait();
      ++done;
    }));
  }
  EXPECT_EQ(done.load(), 2);
}

}  // namespace
}  // namespace mayfly
