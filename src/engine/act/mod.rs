pub mod actions;
pub mod process;
pub mod undo;
