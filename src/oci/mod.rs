pub mod hooks;
pub mod log;
pub mod spec;
