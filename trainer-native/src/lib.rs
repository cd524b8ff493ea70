pub mod allocator;
pub mod backend;
pub mod cli;
pub mod data;
pub mod predict;
pub mod progress;
pub mod pytorch_weights;
pub mod train;
