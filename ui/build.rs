fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(concat!(env!("CARGO_MANIFEST_DIR"), "/lang"))
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // Element names for the testing backend's lookups (the behaviour tests find keys and
        // buttons by their accessible labels); a table of names in the binary, nothing more.
        .with_debug_info(true);
    slint_build::compile_with_config("ui/main.slint", config).expect("the Slint UI compiles");
}
