//! What a caseworker does on the touch screen, through Slint's testing backend with mock time,
//! against a real vault in a temporary directory: signing in on the PIN pad, registering a
//! child by typing on the on-screen keyboard, finding the child under another spelling,
//! reviewing and confirming a match, switching to Arabic, the idle lock, and the Critical
//! warning and shutdown screen. Keys and buttons are pressed through their accessibility
//! actions, as a tap on them does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use fieldkit_app::{KitConfig, MatchFilter};
use fieldkit_domain::RecordKind;
use fieldkit_ui::controller::{App, KitSlot, Setup, lock_slot};
use fieldkit_ui::power::PowerView;
use fieldkit_ui::{
    AppState, CaseFormAdapter, CaseListAdapter, HomeAdapter, KeyboardAdapter, KeyboardLayout,
    LockAdapter, MainWindow, Page, ReviewAdapter, SettingsAdapter, Theme, TracingFormAdapter,
};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};
use i_slint_backend_testing::{ElementHandle, TestingBackend, TestingBackendOptions};
use serde_json::json;
use slint::{ComponentHandle, Model};

const PIN: &str = "482915";
const IDLE: Duration = Duration::from_secs(120);

fn options() -> OpenOptions {
    OpenOptions {
        // The kiosk's blind-index terms: the matcher's cross-script name keys (as the binary's).
        indexer: Arc::new(fieldkit_app::MatcherIndexer),
        ..OpenOptions::default()
    }
}

struct Kiosk {
    _dir: tempfile::TempDir,
    window: MainWindow,
    app: App,
}

type Scenario = Box<dyn FnOnce() + Send>;
type Done = mpsc::Sender<std::thread::Result<()>>;

/// Runs a scenario on the one thread that holds the screen. The testing backend with threading
/// (the sign-in's worker thread reports back through the event loop) can be installed once per
/// process, so every scenario runs there, one after the other; a failed scenario's panic is
/// carried back to its own test.
fn on_ui_thread(scenario: fn()) {
    static UI: OnceLock<mpsc::Sender<(Scenario, Done)>> = OnceLock::new();
    let ui = UI.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Scenario, Done)>();
        std::thread::Builder::new()
            .name("screen".into())
            .spawn(move || {
                slint::platform::set_platform(Box::new(TestingBackend::new(
                    TestingBackendOptions {
                        mock_time: true,
                        threading: true,
                        renderer_name: Some("software".into()),
                    },
                )))
                .expect("the testing backend, once per process");
                for (scenario, done) in rx {
                    let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                        scenario,
                    )));
                }
            })
            .unwrap();
        tx
    });
    let (done, result) = mpsc::channel();
    ui.send((Box::new(scenario), done)).unwrap();
    if let Err(panic) = result.recv().unwrap() {
        std::panic::resume_unwind(panic);
    }
}

/// A provisioned kit (supervisor `amina`), locked, with the screen on it at 800×480.
fn kiosk() -> Kiosk {
    kiosk_with(KitConfig::default())
}

/// As [`kiosk`], with the kit core's configuration given.
fn kiosk_with(config: KitConfig) -> Kiosk {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let (session, _recovery) = Vault::create(
        &path,
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: PIN.as_bytes(),
            policy: CredentialPolicy::default(),
            now_ms: now(),
        },
        options(),
    )
    .unwrap();
    let vault = session.lock();
    let window = MainWindow::new().unwrap();
    window.window().set_size(slint::PhysicalSize::new(800, 480));
    // The language is the process's: a scenario before this one may have left Arabic on.
    fieldkit_ui::lang::apply(&window, "en").unwrap();
    let reopen_path = path.clone();
    let app = App::install(
        &window,
        Setup {
            config,
            kit: Arc::new(std::sync::Mutex::new(KitSlot::Locked(Box::new(vault)))),
            reopen: Arc::new(move || Vault::open(&reopen_path, options())),
            idle: IDLE,
            kit_name: "fieldkit".into(),
            user: "amina".into(),
            on_open: None,
            on_lock: None,
        },
    );
    Kiosk {
        _dir: dir,
        window,
        app,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Runs the event loop until `done` holds (the sign-in thread's result arrives through it).
fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
        slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        })
        .unwrap();
        slint::run_event_loop().unwrap();
    }
    panic!("timed out waiting for {what}");
}

/// The element a caseworker sees labelled `label` (a key, a button, a chip, a field).
fn find(window: &MainWindow, label: &str) -> ElementHandle {
    ElementHandle::find_by_accessible_label(window, label)
        .find(|e| e.is_valid() && e.computed_opacity() > 0.0)
        .unwrap_or_else(|| panic!("nothing labelled {label:?} on screen"))
}

/// The text field labelled `label` (not the caption above it, which carries the same label).
fn field(window: &MainWindow, label: &str) -> ElementHandle {
    ElementHandle::find_by_accessible_label(window, label)
        .find(|e| {
            e.is_valid()
                && e.computed_opacity() > 0.0
                && e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::TextInput)
        })
        .unwrap_or_else(|| panic!("no text field labelled {label:?} on screen"))
}

/// Saves what the screen shows as `DIR/name.png` when `FIELDKIT_SHOT_DIR=DIR` is set (to look
/// at a failing scenario).
fn shot(window: &MainWindow, name: &str) {
    let Some(dir) = std::env::var_os("FIELDKIT_SHOT_DIR") else {
        return;
    };
    let shot = window.window().take_snapshot().unwrap();
    let rgb: Vec<u8> = shot
        .as_bytes()
        .chunks(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let file =
        std::fs::File::create(std::path::Path::new(&dir).join(format!("{name}.png"))).unwrap();
    let mut enc = png::Encoder::new(file, shot.width(), shot.height());
    enc.set_color(png::ColorType::Rgb);
    enc.write_header().unwrap().write_image_data(&rgb).unwrap();
}

fn tap(window: &MainWindow, label: &str) {
    find(window, label).invoke_accessible_default_action();
}

/// Types on the on-screen keyboard, key by key (capitals with the shift key).
fn type_on_keyboard(window: &MainWindow, text: &str) {
    for c in text.chars() {
        if c == ' ' {
            tap(window, "␣");
        } else if c.is_uppercase() {
            tap(window, "⇧");
            tap(window, &c.to_string());
        } else {
            tap(window, &c.to_string());
        }
    }
}

fn sign_in(k: &Kiosk, pin: &str) {
    for d in pin.chars() {
        tap(&k.window, &d.to_string());
    }
    tap(&k.window, "Sign in");
    let lock = k.window.global::<LockAdapter>();
    wait_for("the sign-in", || !lock.get_busy());
}

/// Runs `f` on the signed-in kit behind the screen (to register records as another kit would).
fn with_kit<R>(k: &Kiosk, f: impl FnOnce(&mut fieldkit_app::Kit) -> R) -> R {
    let shared = k.app.kit();
    let mut slot = lock_slot(&shared);
    let KitSlot::Open(kit) = &mut *slot else {
        panic!("signed in")
    };
    f(kit)
}

fn page(k: &Kiosk) -> Page {
    k.window.global::<AppState>().get_page()
}

#[test]
fn a_caseworker_signs_in_with_the_pin_and_a_wrong_pin_is_refused() {
    on_ui_thread(a_caseworker_signs_in_with_the_pin_and_a_wrong_pin_is_refused_on_screen);
}

fn a_caseworker_signs_in_with_the_pin_and_a_wrong_pin_is_refused_on_screen() {
    let k = kiosk();
    assert_eq!(page(&k), Page::Lock);
    sign_in(&k, "111111");
    let lock = k.window.global::<LockAdapter>();
    assert_eq!(lock.get_problem(), "wrong");
    assert_eq!(page(&k), Page::Lock);
    assert!(!k.app.unlocked());
    assert_eq!(
        lock.get_pin_length(),
        0,
        "the digits are forgotten after each try"
    );

    sign_in(&k, PIN);
    assert_eq!(lock.get_problem(), "");
    assert_eq!(page(&k), Page::Home);
    assert!(k.app.unlocked());
    assert_eq!(k.window.global::<AppState>().get_caseworker(), "amina");
}

#[test]
fn a_child_registered_on_the_keyboard_is_found_under_another_spelling() {
    on_ui_thread(a_child_registered_on_the_keyboard_is_found_under_another_spelling_on_screen);
}

fn a_child_registered_on_the_keyboard_is_found_under_another_spelling_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    k.window.global::<HomeAdapter>().invoke_new_case();
    assert_eq!(page(&k), Page::CaseForm);

    // Tap the name field: the keyboard comes up; type the name and press Enter.
    field(&k.window, "Full name").mock_single_click(slint::platform::PointerEventButton::Left);
    assert!(
        ElementHandle::find_by_accessible_label(&k.window, "Hide keyboard").count() > 0,
        "the keyboard came up"
    );
    type_on_keyboard(&k.window, "Muhammad Yusuf");
    tap(&k.window, "↵");
    let form = k.window.global::<CaseFormAdapter>();
    // The kit refuses a case without a sex: the message stands beside that field, nothing saved.
    assert_eq!(form.get_save_state(), "failed");
    let sex_error = form
        .get_identity()
        .iter()
        .find(|f| f.key == "sex")
        .unwrap()
        .error;
    assert_eq!(sex_error.kind, "required", "{sex_error:?}");
    let words = k
        .window
        .global::<fieldkit_ui::Messages>()
        .invoke_sentence(sex_error);
    assert!(
        ElementHandle::find_by_accessible_label(&k.window, &format!("⚠ {words}")).count() > 0,
        "the message {words:?} stands on screen"
    );
    assert_eq!(
        form.get_title(),
        "Muhammad Yusuf",
        "what was typed stays on screen"
    );

    tap(&k.window, "Male");
    assert_eq!(form.get_save_state(), "saved");
    assert!(!form.get_short_id().is_empty());
    let id = k
        .app
        .kit()
        .lock()
        .map(|slot| match &*slot {
            KitSlot::Open(kit) => kit.session().count(RecordKind::Case).unwrap(),
            _ => 0,
        })
        .unwrap();
    assert_eq!(id, 1, "the case is in the vault");

    // Age entered with a mistake, further down the form: scroll to it, tap it, type on the
    // keyboard. The kit's message stands beside the age, the case keeps its name.
    shot(&k.window, "1-saved");
    field(&k.window, "Full name").scroll(0.0, -250.0);
    shot(&k.window, "2-scrolled");
    let age_field = field(&k.window, "Age (years)");
    age_field.mock_single_click(slint::platform::PointerEventButton::Left);
    shot(&k.window, "3-tapped");
    // (Before the fix the keyboard came up over the field, the field was out of the form's
    // visible area, and Slint dropped its focus at the first key: the key was lost and the
    // keyboard closed.)
    assert!(
        ElementHandle::find_by_accessible_label(&k.window, "Hide keyboard").count() > 0,
        "the keyboard came up for the age"
    );
    type_on_keyboard(&k.window, "3");
    assert_eq!(
        field(&k.window, "Age (years)")
            .accessible_value()
            .as_deref(),
        Some("3"),
        "the first key is in the field"
    );
    assert!(
        ElementHandle::find_by_accessible_label(&k.window, "Hide keyboard").count() > 0,
        "the keyboard stays up while typing"
    );
    type_on_keyboard(&k.window, "1");
    tap(&k.window, "↵");
    let age = form.get_identity().iter().find(|f| f.key == "age").unwrap();
    assert_eq!(age.value, "31", "what was typed stays on screen");
    assert_eq!(
        age.error.kind, "not-a-childs-age",
        "an age of 31 is refused for a child"
    );
    assert_eq!(age.error.n, 31);

    // The list finds the child by a misspelling, in the list's search.
    k.window.global::<AppState>().invoke_navigate(Page::Cases);
    let list = k.window.global::<CaseListAdapter>();
    assert_eq!(list.get_total(), 1);
    list.set_query("Mohamed Yousef".into());
    list.invoke_search("Mohamed Yousef".into());
    let rows = list.get_rows();
    assert_eq!(rows.row_count(), 1, "found under another spelling");
    assert_eq!(rows.row_data(0).unwrap().name, "Muhammad Yusuf");
    list.set_query("Halima".into());
    list.invoke_search("Halima".into());
    assert_eq!(list.get_rows().row_count(), 0);
}

#[test]
fn a_potential_match_is_reviewed_and_confirmed_with_a_note() {
    on_ui_thread(a_potential_match_is_reviewed_and_confirmed_with_a_note_on_screen);
}

fn a_potential_match_is_reviewed_and_confirmed_with_a_note_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    let shared = k.app.kit();
    {
        let mut slot = lock_slot(&shared);
        let KitSlot::Open(kit) = &mut *slot else {
            panic!("signed in")
        };
        let case = json!({
            "name": "Amina Yusuf Hassan", "sex": "female", "age": 9, "consent_for_tracing": true,
            "location_separation": "JO-MA-ZAATARI-D3", "date_of_separation": "2025-03-01",
            "family_details_section": [{"relation": "mother", "relation_name": "Halima Yusuf"}],
        });
        kit.register(RecordKind::Case, case.as_object().cloned().unwrap(), now())
            .unwrap();
    }
    // The family's request, entered on the tracing form.
    k.window
        .global::<HomeAdapter>()
        .invoke_new_tracing_request();
    let t = k.window.global::<TracingFormAdapter>();
    t.invoke_edited("relation_name".into(), "Halima Yusuf".into());
    t.invoke_toggled("relation".into(), "mother".into(), true);
    t.invoke_edited("name".into(), "Aminah Yousef Hasan".into());
    t.invoke_toggled("sex".into(), "female".into(), true);
    t.invoke_edited("age".into(), "9".into());
    t.invoke_edited("location_separation".into(), "JO-MA-ZAATARI-D3".into());
    assert_eq!(t.get_save_state(), "saved");
    assert!(
        t.get_matches_found() >= 1,
        "the kit proposes the registered child"
    );

    tap(&k.window, "Review matches");
    assert_eq!(page(&k), Page::Review);
    let review = k.window.global::<ReviewAdapter>();
    let pending = review.get_pending();
    assert_eq!(pending.row_count(), 1);
    let m = pending.row_data(0).unwrap();
    review.invoke_select(m.id.clone());
    assert!(review.get_explanation().row_count() > 0);
    let name_line = review
        .get_explanation()
        .iter()
        .find(|e| e.field == "name")
        .expect("the names are compared");
    assert_eq!(name_line.case_value, "Amina Yusuf Hassan");
    assert_eq!(name_line.trace_value, "Aminah Yousef Hasan");

    review.set_note("mother recognised the photo".into());
    tap(&k.window, "Same child: confirm");
    assert_eq!(review.get_outcome(), "confirmed");
    assert_eq!(review.get_pending().row_count(), 0);
    let mut slot = lock_slot(&shared);
    let KitSlot::Open(kit) = &mut *slot else {
        panic!("signed in")
    };
    let confirmed = kit.potential_matches(&MatchFilter {
        status: Some("confirmed".into()),
        ..MatchFilter::default()
    });
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        confirmed[0].review_note.as_deref(),
        Some("mother recognised the photo")
    );
    assert_eq!(confirmed[0].reviewed_by.as_deref(), Some("amina"));
}

#[test]
fn switching_to_arabic_turns_the_screen_right_to_left_without_a_restart() {
    on_ui_thread(switching_to_arabic_turns_the_screen_right_to_left_without_a_restart_on_screen);
}

fn switching_to_arabic_turns_the_screen_right_to_left_without_a_restart_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    k.window
        .global::<AppState>()
        .invoke_navigate(Page::Settings);
    let before = k.window.window().take_snapshot().unwrap();
    tap(&k.window, "العربية");
    assert!(k.window.global::<Theme>().get_rtl());
    assert_eq!(k.window.global::<SettingsAdapter>().get_language(), "ar");
    assert_eq!(
        k.window.global::<KeyboardAdapter>().get_layout(),
        KeyboardLayout::Arabic
    );
    assert_eq!(page(&k), Page::Settings, "still signed in, same page");
    let after = k.window.window().take_snapshot().unwrap();
    assert_ne!(before.as_bytes(), after.as_bytes(), "the texts changed");
    tap(&k.window, "English");
    assert!(!k.window.global::<Theme>().get_rtl());
}

#[test]
fn the_kiosk_locks_itself_after_the_idle_time() {
    on_ui_thread(the_kiosk_locks_itself_after_the_idle_time_on_screen);
}

fn the_kiosk_locks_itself_after_the_idle_time_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    assert_eq!(page(&k), Page::Home);
    i_slint_backend_testing::mock_elapsed_time(IDLE.saturating_sub(Duration::from_secs(10)));
    tap(&k.window, "Find a case");
    assert_eq!(page(&k), Page::Cases);
    // A touch restarted the idle time: 20 s later the kit is still open.
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(20));
    assert_eq!(page(&k), Page::Cases);
    assert!(k.app.unlocked());
    i_slint_backend_testing::mock_elapsed_time(IDLE);
    assert_eq!(page(&k), Page::Lock);
    assert!(!k.app.unlocked(), "the keys are gone");
    assert!(matches!(&*lock_slot(&k.app.kit()), KitSlot::Locked(_)));
    // And the PIN opens it again.
    sign_in(&k, PIN);
    assert_eq!(page(&k), Page::Home);
}

fn pixel(shot: &slint::SharedPixelBuffer<slint::Rgba8Pixel>, x: u32, y: u32) -> [u8; 3] {
    let p = shot.as_slice()[(y * shot.width() + x) as usize];
    [p.r, p.g, p.b]
}

#[test]
fn critical_power_shows_a_warning_and_a_shutdown_shows_the_saving_screen() {
    on_ui_thread(critical_power_shows_a_warning_and_a_shutdown_shows_the_saving_screen_on_screen);
}

fn critical_power_shows_a_warning_and_a_shutdown_shows_the_saving_screen_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    let mut view = PowerView {
        soc_percent: Some(8.0),
        battery_volts: Some(11.6),
        solar_watts: Some(0.0),
        load_watts: Some(4.0),
        mode: "critical",
        reason: Some(fieldkit_power::ModeReason::BatteryLevel),
        charger: "off".into(),
        shutting_down: false,
        screen_timeout_s: Some(30),
    };
    view.show(&k.window);
    let app = k.window.global::<AppState>();
    assert!(app.get_critical());
    let shot = k.window.window().take_snapshot().unwrap();
    // The warning band across the top, in the danger colour (#b3261e).
    assert_eq!(pixel(&shot, 4, 4), [0xb3, 0x26, 0x1e]);
    find(
        &k.window,
        "⚠ Battery critical: finish and save your work. The kit will shut down soon.",
    );

    view.mode = "shutdown";
    view.shutting_down = true;
    view.show(&k.window);
    assert!(app.get_shutting_down());
    let shot = k.window.window().take_snapshot().unwrap();
    // The whole screen is covered by the dark saving screen.
    let [r, g, b] = pixel(&shot, 400, 400);
    assert!(r < 40 && g < 40 && b < 40, "{r} {g} {b}");
    find(&k.window, "Saving and shutting down");
}

/// The simulated kit's camera as the kiosk gives it to the screen: YUYV frames of the test
/// picture, converted to RGB.
struct TestCamera(fieldkit_sim::camera::SimulatedCamera);

impl fieldkit_app::photos::Camera for TestCamera {
    fn capture(
        &mut self,
    ) -> Result<fieldkit_app::photos::Captured, Box<dyn std::error::Error + Send + Sync>> {
        let frame = self.0.capture()?;
        Ok(fieldkit_app::photos::Captured::Rgb {
            width: frame.width,
            height: frame.height,
            rgb: frame.to_rgb()?,
        })
    }
}

#[test]
fn a_photo_taken_on_the_form_shows_as_a_thumbnail_in_the_list() {
    on_ui_thread(a_photo_taken_on_the_form_shows_as_a_thumbnail_in_the_list_on_screen);
}

fn a_photo_taken_on_the_form_shows_as_a_thumbnail_in_the_list_on_screen() {
    let k = kiosk();
    let folder = tempfile::tempdir().unwrap();
    k.app
        .set_photo_sources(fieldkit_ui::controller::PhotoSources {
            camera: Some(Box::new(TestCamera(
                fieldkit_sim::camera::SimulatedCamera::new(640, 480),
            ))),
            folder: Some(folder.path().to_path_buf()),
        });
    sign_in(&k, PIN);
    let id = with_kit(&k, |kit| {
        let f = json!({"name": "Amina Yusuf", "sex": "female", "age": 9});
        kit.register(RecordKind::Case, f.as_object().cloned().unwrap(), now())
            .unwrap()
            .id
    });
    let list = k.window.global::<CaseListAdapter>();
    k.window.global::<AppState>().invoke_navigate(Page::Cases);
    assert!(!list.get_rows().row_data(0).unwrap().has_thumbnail);

    list.invoke_open(id.to_string().into());
    assert_eq!(page(&k), Page::CaseForm);
    let form = k.window.global::<CaseFormAdapter>();
    tap(&k.window, "Photo");
    assert_eq!(form.get_section(), fieldkit_ui::CaseSection::Photos);
    assert!(!form.get_has_photo());
    // The section's buttons are on the 800×480 panel, where a finger can reach them.
    let take = find(&k.window, "Take photo");
    let bottom = take.absolute_position().y + take.size().height;
    assert!(
        bottom <= 480.0,
        "Take photo ends at y = {bottom}, below the panel"
    );
    assert_eq!(take.accessible_enabled(), Some(true));
    // No picture files in the folder: the page says so.
    tap(&k.window, "From file");
    assert_eq!(form.get_photo_message(), "no-files");

    // Taking the photo runs on the photo worker: the tap returns at once with the section
    // busy and its buttons waiting; the photo appears when the worker is done.
    tap(&k.window, "Take photo");
    assert!(
        form.get_photo_busy(),
        "the photo is taken off the UI thread"
    );
    assert!(
        !form.get_has_photo(),
        "nothing shown before the worker is done"
    );
    assert_eq!(
        find(&k.window, "Take photo").accessible_enabled(),
        Some(false)
    );
    find(&k.window, "Storing the photo…");
    shot(&k.window, "photo-busy");
    wait_for("the photo", || !form.get_photo_busy());
    assert!(form.get_has_photo(), "{}", form.get_photo_message());
    assert_eq!(form.get_photo_count(), 1);
    let shown = form.get_photo().size();
    assert_eq!((shown.width, shown.height), (640, 480));
    assert_eq!(
        find(&k.window, "Take photo").accessible_enabled(),
        Some(true)
    );
    shot(&k.window, "photo-taken");

    // The list shows the thumbnail, 128 pixels wide, without opening the photo.
    k.window.global::<AppState>().invoke_navigate(Page::Cases);
    let row = list.get_rows().row_data(0).unwrap();
    assert!(row.has_thumbnail);
    assert_eq!(row.thumbnail.size().width, 128);

    // Removed after the page asks: gone from the form and the list.
    list.invoke_open(id.to_string().into());
    tap(&k.window, "Photo");
    wait_for("the photo opened", || !form.get_photo_loading());
    assert!(form.get_has_photo());
    tap(&k.window, "Remove");
    assert!(
        form.get_has_photo(),
        "nothing removed before the confirmation"
    );
    find(&k.window, "Remove this photo? It cannot be brought back.");
    tap(&k.window, "Remove");
    assert!(!form.get_has_photo());
    k.window.global::<AppState>().invoke_navigate(Page::Cases);
    assert!(!list.get_rows().row_data(0).unwrap().has_thumbnail);
}

/// Every text on screen (what a caseworker reads: texts, buttons, chips, field captions), on
/// screen now.
fn texts_on_screen(window: &MainWindow) -> Vec<String> {
    i_slint_backend_testing::ElementQuery::from_root(window)
        .match_descendants()
        .match_predicate(|e| e.accessible_label().is_some_and(|l| !l.is_empty()))
        .find_all()
        .into_iter()
        .filter(|e| e.is_valid() && e.computed_opacity() > 0.0)
        .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
        .collect()
}

#[test]
fn no_lookup_value_is_shown_untranslated_in_arabic() {
    on_ui_thread(no_lookup_value_is_shown_untranslated_in_arabic_on_screen);
}

fn no_lookup_value_is_shown_untranslated_in_arabic_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    with_kit(&k, |kit| fieldkit_ui::demo::seed(kit, 12, now()).unwrap());
    PowerView {
        soc_percent: Some(62.0),
        mode: "normal",
        charger: "bulk".into(),
        ..PowerView::default()
    }
    .show(&k.window);

    // What an untranslated lookup value looks like on screen: its id, the id with spaces (what
    // `Labels.value` falls back to), or its English label.
    let mut ids: Vec<String> = fieldkit_domain::lookups::Lookups::shipped()
        .lists()
        .flat_map(|(_, v)| v.iter().map(|v| v.id.clone()))
        .collect();
    ids.extend(
        [
            "supervisor",
            "caseworker",
            "bulk",
            "absorption",
            "float",
            "normal",
        ]
        .map(String::from),
    );
    let labels = k.window.global::<fieldkit_ui::Labels>();
    let mut english: Vec<String> = Vec::new();
    for id in &ids {
        english.push(id.clone());
        english.push(id.replace('_', " "));
        english.push(labels.invoke_value(id.into()).to_string());
    }
    english.push("Bulk charging".into());
    let english: std::collections::BTreeSet<String> =
        english.into_iter().map(|e| e.to_lowercase()).collect();

    fieldkit_ui::lang::apply(&k.window, "ar").unwrap();
    let mut seen = 0;
    let mut untranslated = Vec::new();
    let form = k.window.global::<CaseFormAdapter>();
    for screen in fieldkit_ui::screens::PAGES {
        let sections: &[fieldkit_ui::CaseSection] = if screen.page == Page::CaseForm {
            use fieldkit_ui::CaseSection as S;
            &[
                S::Identity,
                S::Separation,
                S::Family,
                S::Concerns,
                S::Disability,
                S::Photos,
                S::Consent,
            ]
        } else {
            &[screen.section]
        };
        for &section in sections {
            fieldkit_ui::screens::show(
                &k.window,
                fieldkit_ui::screens::Screen { section, ..screen },
            );
            form.set_section(section);
            shot(&k.window, &format!("ar-{}-{section:?}", screen.name));
            for text in texts_on_screen(&k.window) {
                seen += 1;
                let parts = text
                    .split([',', '·', '/', '⇄', ':', '(', ')'])
                    .map(|p| p.trim().to_lowercase())
                    .filter(|p| !p.is_empty());
                for part in parts {
                    if english.contains(&part) {
                        untranslated.push(format!("{} ({section:?}): {text:?}", screen.name));
                    }
                }
            }
        }
    }
    assert!(seen > 200, "only {seen} texts seen");
    assert!(
        untranslated.is_empty(),
        "lookup values shown untranslated in Arabic:\n{}",
        untranslated.join("\n")
    );
}

#[test]
fn opening_a_case_decodes_its_photo_off_the_ui_thread() {
    on_ui_thread(opening_a_case_decodes_its_photo_off_the_ui_thread_on_screen);
}

fn opening_a_case_decodes_its_photo_off_the_ui_thread_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    let register = |name: &str| {
        with_kit(&k, |kit| {
            let f = json!({"name": name, "sex": "female", "age": 9});
            kit.register(RecordKind::Case, f.as_object().cloned().unwrap(), now())
                .unwrap()
                .id
        })
    };
    let with_photo = register("Amina Yusuf");
    let without = register("Halima Abdi");
    let frame = fieldkit_sim::camera::SimulatedCamera::new(640, 480)
        .capture()
        .unwrap();
    with_kit(&k, |kit| {
        kit.attach_photo_rgb(with_photo, 640, 480, frame.to_rgb().unwrap(), now())
            .unwrap()
    });
    let list = k.window.global::<CaseListAdapter>();
    let form = k.window.global::<CaseFormAdapter>();
    k.window.global::<AppState>().invoke_navigate(Page::Cases);

    // The case opens at once, its fields shown; the photo is read and decoded on the worker.
    list.invoke_open(with_photo.to_string().into());
    assert_eq!(page(&k), Page::CaseForm);
    assert_eq!(form.get_title(), "Amina Yusuf");
    assert!(
        form.get_photo_loading(),
        "the photo is opened off the UI thread"
    );
    assert!(!form.get_has_photo(), "nothing shown before it is decoded");
    tap(&k.window, "Photo");
    find(&k.window, "…");
    shot(&k.window, "photo-opening");
    wait_for("the photo", || !form.get_photo_loading());
    assert!(form.get_has_photo());
    assert_eq!(form.get_photo_count(), 1);
    let shown = form.get_photo().size();
    assert_eq!((shown.width, shown.height), (640, 480));

    // Another case opened before the photo is decoded: the first case's photo never shows on it.
    k.window.global::<AppState>().invoke_navigate(Page::Cases);
    list.invoke_open(with_photo.to_string().into());
    list.invoke_open(without.to_string().into());
    assert_eq!(form.get_title(), "Halima Abdi");
    wait_for("the second case's photos", || !form.get_photo_loading());
    for _ in 0..10 {
        wait_for("a turn of the event loop", || true);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(form.get_title(), "Halima Abdi");
    assert!(!form.get_has_photo(), "the other case's photo is not shown");
    tap(&k.window, "Photo");
    find(&k.window, "No photo");
}

/// The element of `CaseListPage` with this id (every instance of it, for a row).
fn case_list_element(k: &Kiosk, id: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_element_id(&k.window, &format!("CaseListPage::{id}"))
        .filter(|e| e.is_valid())
        .collect()
}

#[test]
fn the_case_list_shows_six_rows_at_800x480_in_every_language() {
    on_ui_thread(the_case_list_shows_six_rows_at_800x480_in_every_language_on_screen);
}

fn the_case_list_shows_six_rows_at_800x480_in_every_language_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    with_kit(&k, |kit| fieldkit_ui::demo::seed(kit, 12, now()).unwrap());
    k.window.global::<AppState>().invoke_navigate(Page::Cases);
    let list = k.window.global::<CaseListAdapter>();
    for language in fieldkit_ui::lang::LANGUAGES {
        fieldkit_ui::lang::apply(&k.window, language.code).unwrap();
        shot(&k.window, &format!("cases-{}", language.code));
        let view = case_list_element(&k, "list");
        let view = view.first().expect("the case list");
        let row = case_list_element(&k, "case-row");
        let row = row.first().expect("a row of the list");
        let (top, height) = (view.absolute_position().y, view.size().height);
        assert!(
            top + height <= 480.0,
            "{}: the list ends below the panel",
            language.code
        );
        let rows = height / row.size().height;
        assert!(
            rows >= 6.0,
            "{}: {rows:.1} rows visible ({height} px of list at y = {top})",
            language.code
        );
    }

    // In Arabic the filters open in a sheet over the list: every chip is on the panel, within
    // reach, in right-to-left order, and the list and the Filters button show what is set.
    fieldkit_ui::lang::apply(&k.window, "ar").unwrap();
    let labels = k.window.global::<fieldkit_ui::Labels>();
    let concern = |id: &str| labels.invoke_short(id.into()).to_string();
    tap(&k.window, "التصفية");
    shot(&k.window, "cases-ar-filters");
    let mut xs = Vec::new();
    for id in fieldkit_ui::controller::CONCERN_FILTERS {
        let chip = find(&k.window, &concern(id));
        let (p, size) = (chip.absolute_position(), chip.size());
        assert!(
            p.x >= 0.0 && p.x + size.width <= 800.0 && p.y + size.height <= 480.0,
            "{id} is off the panel at {p:?}"
        );
        xs.push((p.y, p.x));
    }
    // On one line, the first concern stands right of the second.
    assert!(xs[0].0 != xs[1].0 || xs[0].1 > xs[1].1, "{xs:?}");
    let before = list.get_shown();
    tap(&k.window, &concern("unaccompanied"));
    assert_eq!(list.get_concern(), "unaccompanied");
    assert!(list.get_shown() < before, "the filter applies at once");
    // Open cases and one concern: two filters set.
    find(&k.window, "التصفية (2)");
    tap(&k.window, "تم");
    assert!(
        ElementHandle::find_by_accessible_label(&k.window, &concern("caafag"))
            .all(|e| !e.is_valid() || e.computed_opacity() == 0.0),
        "the sheet is closed"
    );
    tap(&k.window, "التصفية");
    tap(&k.window, &concern("unaccompanied"));
    assert_eq!(list.get_concern(), "");
    assert_eq!(list.get_shown(), before);
    fieldkit_ui::lang::apply(&k.window, "en").unwrap();
}

/// A child's case and her mother's tracing request that the matcher pairs, explained in its
/// own words: the relatives compared, and a separation date the trace takes from its request.
/// Returns the request's id.
fn register_amina_and_her_mothers_request(
    kit: &mut fieldkit_app::Kit,
) -> fieldkit_domain::RecordId {
    let case = json!({
        "name": "أمينة يوسف حسن", "sex": "female", "age": 9, "consent_for_tracing": true,
        "date_of_separation": "2025-03-01",
        "family_details_section": [{"relation": "mother", "relation_name": "حليمة يوسف"}],
    });
    kit.register(RecordKind::Case, case.as_object().cloned().unwrap(), now())
        .unwrap();
    let request = json!({
        "relation_name": "حليمة يوسف", "relation": "mother", "date_of_separation": "2025-03-04",
        "tracing_request_subform_section": [{"name": "أمينة يوسف", "sex": "female", "age": 9}],
    });
    kit.register(
        RecordKind::TracingRequest,
        request.as_object().cloned().unwrap(),
        now(),
    )
    .unwrap()
    .id
}

#[test]
fn the_kits_messages_are_shown_in_arabic_with_no_english_prose() {
    on_ui_thread(the_kits_messages_are_shown_in_arabic_with_no_english_prose_on_screen);
}

/// A Latin word of three letters or more: English left in a right-to-left screen.
fn latin_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3)
        .map(str::to_owned)
        .collect()
}

/// What the kit's Rust code says (a field's validation problem, the power policy's reason, the
/// matcher's explanation of a potential match) stands on the Arabic screen in Arabic: no English word in any text of those pages but the
/// Latin names the records hold and the units and formats the pages show.
fn the_kits_messages_are_shown_in_arabic_with_no_english_prose_on_screen() {
    let k = kiosk();
    sign_in(&k, PIN);
    fieldkit_ui::lang::apply(&k.window, "ar").unwrap();
    PowerView {
        soc_percent: Some(18.0),
        battery_volts: Some(12.1),
        mode: "saver",
        reason: Some(fieldkit_power::ModeReason::SpellReserve),
        charger: "float".into(),
        ..PowerView::default()
    }
    .show(&k.window);

    // A case the kit refuses: no sex, an adult's age, a date of birth in the future.
    k.window.global::<HomeAdapter>().invoke_new_case();
    let form = k.window.global::<CaseFormAdapter>();
    form.invoke_edited("name".into(), "أمينة يوسف".into());
    form.invoke_edited("age".into(), "31".into());
    form.invoke_edited("date_of_birth".into(), "2099-01-01".into());
    let kinds: Vec<String> = form
        .get_identity()
        .iter()
        .map(|f| f.error.kind.to_string())
        .filter(|k| !k.is_empty())
        .collect();
    assert!(
        kinds.contains(&"required".to_owned()) && kinds.contains(&"in-future".to_owned()),
        "{kinds:?}"
    );
    // A potential match whose explanation has the matcher's own words: the relatives compared,
    // and a separation date the trace takes from its request.
    with_kit(&k, |kit| {
        register_amina_and_her_mothers_request(kit);
    });
    k.window.global::<AppState>().invoke_navigate(Page::Review);
    let review = k.window.global::<ReviewAdapter>();
    let pending = review.get_pending();
    assert!(pending.row_count() >= 1, "the kit proposes the pair");
    review.invoke_select(pending.row_data(0).unwrap().id);
    let worded: Vec<String> = review
        .get_explanation()
        .iter()
        .filter(|e| !e.detail.kind.is_empty())
        .map(|e| e.detail.kind.to_string())
        .collect();
    assert!(
        worded.iter().any(|k| k.starts_with("relative-")),
        "the relatives are explained in the matcher's words: {worded:?}"
    );

    let mut english = Vec::new();
    let mut messages = 0;
    for page in [Page::CaseForm, Page::Status, Page::Review] {
        k.window.global::<AppState>().set_page(page);
        form.set_section(fieldkit_ui::CaseSection::Identity);
        shot(&k.window, &format!("ar-messages-{page:?}"));
        for text in texts_on_screen(&k.window) {
            messages += usize::from(text.starts_with('⚠'));
            // What the pages show in Latin letters on purpose: units, the date format, the link.
            let rest = ["YYYY-MM-DD", "LoRa", " W", " V", "%"]
                .iter()
                .fold(text.clone(), |t, keep| t.replace(keep, " "));
            if !latin_words(&rest).is_empty() {
                english.push(format!("{page:?}: {text:?}"));
            }
        }
    }
    k.window.global::<AppState>().set_page(Page::Status);
    let reason = k.window.global::<fieldkit_ui::Messages>().invoke_sentence(
        fieldkit_ui::messages::power_reason(fieldkit_power::ModeReason::SpellReserve),
    );
    assert!(
        ElementHandle::find_by_accessible_label(&k.window, &reason).count() > 0,
        "the power reason {reason:?} is on the status page"
    );
    assert!(messages >= 2, "{messages} validation messages on screen");
    assert!(
        english.is_empty(),
        "English on the Arabic screen:\n{}",
        english.join("\n")
    );
}

#[test]
fn a_match_that_arrived_by_sync_is_explained_in_arabic() {
    on_ui_thread(a_match_that_arrived_by_sync_is_explained_in_arabic_on_screen);
}

/// A potential match the hub found reaches the kit as the hub sends it (the match record's
/// operations, and its two sides', through the sync codec and back), and the review page words
/// its explanation in Arabic: the typed details survive the trip and no English word is shown.
/// The receiving kit holds the family's request only (the child's case is on another kit), so
/// what the page explains is the hub's.
fn a_match_that_arrived_by_sync_is_explained_in_arabic_on_screen() {
    use fieldkit_domain::Detail;
    use fieldkit_sync::message::Body;

    // The hub runs the kit core: a kit of its own proposes the match.
    let hub_dir = tempfile::tempdir().unwrap();
    let (session, _recovery) = Vault::create(
        &hub_dir.path().join("hub.redb"),
        InitOptions {
            username: "hub",
            display_name: "Hub",
            credential: PIN.as_bytes(),
            policy: CredentialPolicy::default(),
            now_ms: now(),
        },
        options(),
    )
    .unwrap();
    let mut hub = fieldkit_app::Kit::open(session, KitConfig::default(), now()).unwrap();
    let request_id = register_amina_and_her_mothers_request(&mut hub);
    let found = hub.potential_matches(&MatchFilter::default());
    let sent = found.first().expect("the hub proposes the pair");
    assert!(
        sent.comparison
            .iter()
            .any(|e| matches!(e.detail, Detail::Family(_))),
        "the hub's explanation is typed: {:?}",
        sent.comparison
    );
    // What the hub sends: each record's operations, save by save, encoded and decoded.
    let wire = |kind: RecordKind, id: fieldkit_domain::RecordId| {
        let ops = hub.session().ops_since(kind, id, None).unwrap();
        let (tag, compressed, bytes) = Body::Ops(fieldkit_sync::codec::by_save(ops)).encode();
        match Body::decode(tag, compressed, &bytes).unwrap() {
            Body::Ops(ops) => ops,
            other => panic!("decoded as {other:?}"),
        }
    };
    // The family's request is on this kit; the child's case stays on the kit that registered
    // it, so this kit cannot score the pair itself: what it explains is the hub's.
    let request_ops = wire(RecordKind::TracingRequest, request_id);
    let notice = wire(RecordKind::PotentialMatch, sent.id);

    let k = kiosk();
    sign_in(&k, PIN);
    fieldkit_ui::lang::apply(&k.window, "ar").unwrap();
    with_kit(&k, |kit| {
        kit.apply_ops(&request_ops, now()).unwrap();
        assert!(
            kit.potential_matches(&MatchFilter::default()).is_empty(),
            "the kit proposes nothing itself"
        );
        kit.apply_ops(&notice, now()).unwrap();
        let held = kit.potential_matches(&MatchFilter::default());
        assert_eq!(held.len(), 1, "the hub's notice is held");
        assert_eq!(
            held[0].comparison, sent.comparison,
            "the explanation travelled whole"
        );
    });

    k.window.global::<AppState>().invoke_navigate(Page::Review);
    let review = k.window.global::<ReviewAdapter>();
    let pending = review.get_pending();
    assert_eq!(pending.row_count(), 1);
    let row = pending.row_data(0).unwrap();
    assert_eq!(row.id.as_str(), sent.id.to_string());
    review.invoke_select(row.id);
    let kinds: Vec<String> = review
        .get_explanation()
        .iter()
        .map(|e| e.detail.kind.to_string())
        .filter(|k| !k.is_empty())
        .collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("relative-"))
            && !kinds.iter().any(|k| k == "as-written"),
        "every detail is worded, none shown as written: {kinds:?}"
    );
    shot(&k.window, "ar-review-from-sync");
    // The date format the forms show in Latin letters on purpose.
    let english: Vec<String> = texts_on_screen(&k.window)
        .into_iter()
        .filter(|t| !latin_words(&t.replace("YYYY-MM-DD", " ")).is_empty())
        .collect();
    assert!(
        english.is_empty(),
        "English on the Arabic review page of a match from the hub:\n{}",
        english.join("\n")
    );
    fieldkit_ui::lang::apply(&k.window, "en").unwrap();
}
