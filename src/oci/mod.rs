pub mod log;
pub mod spec;
