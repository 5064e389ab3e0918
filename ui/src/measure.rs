//! Where a one-line text that does not fit is cut: the width of the first line Slint draws when
//! the text is word-wrapped into a box, so `Line` (`ui/widgets/line.slint`) puts its ellipsis
//! right after the last whole word instead of at the box's edge.
//!
//! Slint does not report where a wrapped line ends, so the text is laid out again here with the
//! engine Slint 1.18.1 draws with (parley, over the system fonts fontique finds through
//! fontconfig) and the same settings its text items use: the family asked for, then the generic
//! sans-serif and system-ui families; the weight; the pixel size; normal word breaking with
//! overflow anywhere (a word longer than the box is broken, as Slint breaks it); scale 1, no
//! quantising. The two layouts agree as long as these do (a Slint upgrade that changes them
//! shows in `tests/rtl_elide.rs`, which measures the gap between the text's ink and the
//! ellipsis').

use std::borrow::Cow;
use std::cell::RefCell;

use parley::fontique::GenericFamily;
use parley::{
    FontContext, FontFamily, FontFamilyName, FontWeight, LayoutContext, OverflowWrap,
    StyleProperty, WordBreak,
};

/// The family of every text that names none (`default-font-family` of `MainWindow`).
pub const DEFAULT_FAMILY: &str = "Noto Sans";

thread_local! {
    /// The font database and layout scratch space, made once per thread (the UI thread): the
    /// font scan is the slow part.
    static CONTEXT: RefCell<Option<(FontContext, LayoutContext<()>)>> =
        const { RefCell::new(None) };
}

/// The width, in logical pixels, of the first line of `text` word-wrapped into `width`, drawn
/// in `family` (empty: the default) at `size` pixels and `weight`; without the spaces that
/// end the line. At most `width`.
pub fn first_line_width(text: &str, family: &str, size: f32, weight: i32, width: f32) -> f32 {
    if text.is_empty() || width <= 0.0 || size <= 0.0 {
        return 0.0;
    }
    wrapped(text, family, size, weight, width, |layout| {
        layout.lines().next().map_or(0.0, |line| {
            let m = line.metrics();
            (m.advance - m.trailing_whitespace).clamp(0.0, width)
        })
    })
}

/// The height, in logical pixels, of `text` word-wrapped into `width` (as [`first_line_width`]
/// lays it out): what a wrapping `Text` of that width needs to show every line. The screen's
/// tests hold a row's height against it.
pub fn wrapped_height(text: &str, family: &str, size: f32, weight: i32, width: f32) -> f32 {
    if text.is_empty() || width <= 0.0 || size <= 0.0 {
        return 0.0;
    }
    wrapped(text, family, size, weight, width, |layout| layout.height())
}

/// How many lines `text` takes word-wrapped into `width`.
pub fn wrapped_lines(text: &str, family: &str, size: f32, weight: i32, width: f32) -> usize {
    if text.is_empty() || width <= 0.0 || size <= 0.0 {
        return 0;
    }
    wrapped(text, family, size, weight, width, |layout| layout.len())
}

/// Lays `text` out word-wrapped into `width` with Slint's settings and hands the layout to `f`.
fn wrapped<R>(
    text: &str,
    family: &str,
    size: f32,
    weight: i32,
    width: f32,
    f: impl FnOnce(&parley::Layout<()>) -> R,
) -> R {
    let family = if family.is_empty() {
        DEFAULT_FAMILY
    } else {
        family
    };
    CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        let (fonts, layouts) =
            context.get_or_insert_with(|| (FontContext::new(), LayoutContext::new()));
        let families = [
            FontFamilyName::named(family),
            FontFamilyName::Generic(GenericFamily::SansSerif),
            FontFamilyName::Generic(GenericFamily::SystemUi),
        ];
        let mut builder = layouts.ranged_builder(fonts, text, 1.0, false);
        builder.push_default(FontFamily::List(Cow::Borrowed(&families)));
        // Slint's weights are CSS weights (400, 700), whole numbers well inside f32.
        #[allow(clippy::cast_precision_loss)]
        builder.push_default(StyleProperty::FontWeight(FontWeight::new(weight as f32)));
        builder.push_default(StyleProperty::FontSize(size));
        builder.push_default(StyleProperty::WordBreak(WordBreak::Normal));
        builder.push_default(StyleProperty::OverflowWrap(OverflowWrap::Anywhere));
        let mut layout = builder.build(text);
        layout.break_all_lines(Some(width));
        f(&layout)
    })
}

#[cfg(test)]
mod tests {
    use super::first_line_width;

    #[test]
    fn a_wrapped_line_ends_at_its_last_whole_word() {
        let text = "٣ طلبات تتبع بانتظار المراجعة في المخيم";
        let whole = first_line_width(text, "", 18.0, 400, 10_000.0);
        assert!(whole > 100.0, "the whole text on one line: {whole}");
        let cut = first_line_width(text, "", 18.0, 400, 140.0);
        assert!(cut > 20.0 && cut <= 140.0, "{cut}");
        // Whole words only: the first line is the width of some prefix of words.
        let words: Vec<&str> = text.split(' ').collect();
        let prefixes: Vec<f32> = (1..=words.len())
            .map(|n| first_line_width(&words[..n].join(" "), "", 18.0, 400, 10_000.0))
            .collect();
        assert!(
            prefixes.iter().any(|w| (w - cut).abs() < 0.5),
            "{cut} is not the width of whole words: {prefixes:?}"
        );
        assert!(first_line_width("", "", 18.0, 400, 100.0) == 0.0);
    }
}
