//! What the screen tests share: the headless testing backend with Slint's software renderer,
//! mock time, and a window at a given size.

#![allow(dead_code)]

use i_slint_backend_testing::{TestingBackend, TestingBackendOptions};

/// Installs the testing backend for this test thread: mock time, the software renderer, no
/// event loop (each test thread has its own).
pub fn init() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .expect("the testing backend is installed once per test thread");
}
pub mod preview;
