pub mod backend;
pub mod cli;
pub mod data;
pub mod train;
