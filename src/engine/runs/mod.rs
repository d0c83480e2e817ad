pub mod call;
pub mod done_gate;
pub mod evaluate;
pub mod isolate;
pub mod loops;
pub mod orchestrate;
pub mod proposals;
pub mod stages;
