//! Metrics computed without building a graph (filled in next).
