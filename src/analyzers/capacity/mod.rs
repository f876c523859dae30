//! Capacity planning: forecasts of disk, CPU, heap and throughput, and findings that say
//! when each system's real limit is reached and what to add before then.

pub mod forecast;
