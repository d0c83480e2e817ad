pub mod actions;
pub mod confine;
pub mod process;
pub mod sandbox;
pub mod undo;
pub mod watch;
