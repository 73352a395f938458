// Tests run one class at a time: several start real clusters and processes and time their
// recovery, which two cores shared with other tests would distort.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
