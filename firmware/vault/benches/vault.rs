//! Vault benchmark against SQLCipher (being written).

fn main() {}
