pub mod budget;
pub mod context;
pub mod dispatch;
pub mod providers;
pub mod robust;
