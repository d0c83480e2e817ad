pub mod converse;
pub mod diag;
pub mod doctor;
pub mod handle;
pub mod report;
pub mod roles;
pub mod tasks;
pub mod tutorial;
