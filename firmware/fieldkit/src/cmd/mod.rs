pub mod power;
pub mod trace;
