//! Fixed contents for layout screenshots: every adapter filled the way a day at a camp fills it,
//! so the references show full screens. Behaviour tests use the real kit instead.

use fieldkit_domain::explain::{Detail, NameAgreement, NamesCompared, RelativeCompared, WordPair};
use fieldkit_ui::*;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

fn model<T: Clone + 'static>(items: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(items))
}

/// A stored JPEG (a photo or thumbnail the kit core made) as the screen shows it.
fn image(jpeg: &[u8]) -> slint::Image {
    let px = fieldkit_app::photos::decode(jpeg).expect("the kit's own JPEG");
    slint::Image::from_rgb8(slint::SharedPixelBuffer::clone_from_slice(
        &px.rgb, px.width, px.height,
    ))
}

fn text(key: &str, value: &str, error: Option<fieldkit_domain::Problem>) -> FormField {
    FormField {
        key: key.into(),
        kind: FieldKind::Text,
        value: value.into(),
        error: error
            .as_ref()
            .map(fieldkit_ui::messages::problem)
            .unwrap_or_default(),
        options: model(vec![]),
    }
}

fn choice(key: &str, values: &[&str], checked: &[&str], multi: bool) -> FormField {
    FormField {
        key: key.into(),
        kind: if multi {
            FieldKind::Multi
        } else {
            FieldKind::Choice
        },
        value: SharedString::default(),
        error: Message::default(),
        options: model(
            values
                .iter()
                .map(|v| ChoiceOption {
                    value: (*v).into(),
                    checked: checked.contains(v),
                })
                .collect(),
        ),
    }
}

pub fn fill(window: &MainWindow) {
    lang::install(window);
    fieldkit_ui::panel::install(window);
    let app = window.global::<AppState>();
    app.set_caseworker("amina".into());
    app.set_soc_known(true);
    app.set_soc_percent(62.0);
    app.set_power_mode("normal".into());

    let lock = window.global::<LockAdapter>();
    lock.set_user("amina".into());
    lock.set_pin_length(3);

    let home = window.global::<HomeAdapter>();
    home.set_cases(1248);
    home.set_tracing_requests(311);
    home.set_urgent(3);
    home.set_pending_matches(5);
    home.set_alerts(model(vec![
        AlertItem {
            id: "a".into(),
            name: "محمد يوسف".into(),
            reason: "7 · Block C".into(),
            risk: "high".into(),
        },
        AlertItem {
            id: "b".into(),
            name: "Amina Hassan".into(),
            reason: "12 · Block A".into(),
            risk: "high".into(),
        },
    ]));

    let cases = window.global::<CaseListAdapter>();
    cases.set_total(1248);
    cases.set_shown(1248);
    cases.set_concerns(model(vec![
        FilterOption {
            value: "unaccompanied".into(),
            label: "".into(),
        },
        FilterOption {
            value: "separated".into(),
            label: "".into(),
        },
    ]));
    let names = [
        ("Muhammad Yusuf", "male", "9 · Block C", "high", true),
        ("محمد يوسف", "male", "11 · Block A", "medium", false),
        ("Halima Abdi", "female", "6 · Block D", "low", false),
        ("Fatuma Warsame", "female", "14 · Block C", "high", false),
        ("Abdul Rahman", "male", "16 · Block B", "medium", false),
        ("Мария Иванова", "female", "8 · Block A", "low", false),
        ("Deng Garang", "male", "12 · Block E", "low", false),
        ("Nyabol Chuol", "female", "10 · Block E", "medium", false),
    ];
    cases.set_rows(model(
        names
            .iter()
            .enumerate()
            .map(|(i, (name, sex, details, risk, urgent))| {
                // Some children have a photo: the demo kit's portraits, normalised by the kit
                // core as a camera's photo is, and the thumbnail it made.
                let thumbnail = (i % 3 != 2).then(|| {
                    let photo = demo::portrait_photo(i).expect("a demo portrait");
                    image(&photo.thumbnail)
                });
                CaseRow {
                    id: format!("id{i}").into(),
                    short_id: format!("4cd9de{i:02}").into(),
                    name: (*name).into(),
                    sex: (*sex).into(),
                    details: (*details).into(),
                    risk: (*risk).into(),
                    urgent: *urgent,
                    closed: false,
                    has_thumbnail: thumbnail.is_some(),
                    thumbnail: thumbnail.unwrap_or_default(),
                }
            })
            .collect(),
    ));

    let form = window.global::<CaseFormAdapter>();
    form.set_title("Muhammad Yusuf".into());
    form.set_short_id("4cd9de1a".into());
    form.set_urgent(true);
    form.set_save_state("saved".into());
    form.set_identity(model(vec![
        text("name", "Muhammad Yusuf", None),
        choice("sex", &["female", "male", "unknown"], &["male"], false),
        text(
            "age",
            "19",
            Some(fieldkit_domain::Problem::NotAChildsAge { age: 19 }),
        ),
        text("date_of_birth", "", None),
        text("location_current", "Block C", None),
    ]));
    let photo = demo::portrait_photo(0).expect("a demo portrait");
    form.set_photo(image(&photo.jpeg));
    form.set_has_photo(true);
    form.set_photo_count(2);
    form.set_camera_available(true);
    form.set_conflicts(model(vec![ConflictRow {
        key: "location_current".into(),
        values: model(vec!["Block C".into(), "Block D".into()]),
    }]));

    let tracing = window.global::<TracingFormAdapter>();
    tracing.set_save_state("saved".into());
    tracing.set_matches_found(2);
    tracing.set_inquirer(model(vec![
        text("relation_name", "Halima Yusuf", None),
        choice(
            "relation",
            &["mother", "father", "aunt", "uncle", "other"],
            &["mother"],
            false,
        ),
        text("relation_telephone", "", None),
    ]));
    tracing.set_child(model(vec![
        text("name", "محمد يوسف", None),
        choice("sex", &["female", "male", "unknown"], &["male"], false),
        text("age", "11", None),
        text("date_of_separation", "2026-03-14", None),
    ]));

    let review = window.global::<ReviewAdapter>();
    review.set_pending(model(vec![
        MatchRow {
            id: "m1".into(),
            case_name: "Muhammad Yusuf".into(),
            trace_name: "محمد يوسف".into(),
            likely: true,
            score: "21.4".into(),
        },
        MatchRow {
            id: "m2".into(),
            case_name: "Halima Abdi".into(),
            trace_name: "Halimo Cabdi".into(),
            likely: false,
            score: "9.8".into(),
        },
    ]));
    review.set_selected("m1".into());
    review.set_likely(true);
    review.set_score("21.4".into());
    review.set_case_title("Muhammad Yusuf".into());
    review.set_trace_title("Halima Yusuf".into());
    review.set_explanation(model(vec![
        ExplainRow {
            field: "name".into(),
            case_value: "Muhammad Yusuf".into(),
            trace_value: "محمد يوسف".into(),
            weight: "+12.1".into(),
            detail: Message::default(),
            lookup: false,
            agrees: true,
            disagrees: false,
        },
        ExplainRow {
            field: "sex".into(),
            case_value: "male".into(),
            trace_value: "male".into(),
            weight: "+1.0".into(),
            detail: Message::default(),
            lookup: true,
            agrees: true,
            disagrees: false,
        },
        ExplainRow {
            field: "age".into(),
            case_value: "9".into(),
            trace_value: "11".into(),
            weight: "+0.8".into(),
            detail: Message::default(),
            lookup: false,
            agrees: true,
            disagrees: false,
        },
        // Groups and fields one side lacks carry the matcher's words.
        ExplainRow {
            field: "family_details_section".into(),
            case_value: "".into(),
            trace_value: "".into(),
            weight: "+6.4".into(),
            detail: messages::relative(&RelativeCompared {
                relation: "mother".into(),
                name: "Halima Yusuf".into(),
                listed: "mother".into(),
                names: NamesCompared {
                    a: "Halima Yusuf".into(),
                    b: "حليمة يوسف".into(),
                    pairs: vec![
                        WordPair {
                            a: "halima".into(),
                            b: "halima".into(),
                            agreement: NameAgreement::SameConsonants,
                        },
                        WordPair {
                            a: "yusuf".into(),
                            b: "yusuf".into(),
                            agreement: NameAgreement::Same,
                        },
                    ],
                    counted: 1,
                    ..NamesCompared::default()
                },
                weight: 6.4,
            }),
            lookup: false,
            agrees: true,
            disagrees: false,
        },
        ExplainRow {
            field: "date_of_separation".into(),
            case_value: "".into(),
            trace_value: "".into(),
            weight: "−2.0".into(),
            detail: messages::evidence(&Detail::SeparatedAfterRegistration { days: 52 }),
            lookup: false,
            agrees: false,
            disagrees: true,
        },
        ExplainRow {
            field: "location_separation".into(),
            case_value: "Gate 2".into(),
            trace_value: "Market".into(),
            weight: "−0.9".into(),
            detail: Message::default(),
            lookup: false,
            agrees: false,
            disagrees: true,
        },
    ]));

    let status = window.global::<StatusAdapter>();
    status.set_soc_known(true);
    status.set_soc_percent(62.0);
    status.set_battery_volts(13.1);
    status.set_solar_watts(18.0);
    status.set_load_watts(6.0);
    status.set_mode("normal".into());
    status.set_charger("bulk".into());
    status.set_reason(fieldkit_ui::messages::power_reason(
        fieldkit_power::ModeReason::Plenty,
    ));
    fieldkit_ui::sync::SyncView {
        provisioned: Some(true),
        queued: Some(4),
        links: vec![
            fieldkit_ui::sync::LinkView {
                link: "ip",
                state: fieldkit_ui::sync::LinkState::Off,
                last_sync: Some("12-02 17:05".into()),
            },
            fieldkit_ui::sync::LinkView {
                link: "lora",
                state: fieldkit_ui::sync::LinkState::Ready,
                last_sync: Some("10:42".into()),
            },
        ],
        last_sync: Some("10:42".into()),
    }
    .show(window);

    let settings = window.global::<SettingsAdapter>();
    settings.set_languages(model(
        lang::LANGUAGES
            .iter()
            .map(|l| LanguageOption {
                code: l.code.into(),
                native: l.native.into(),
            })
            .collect(),
    ));
    settings.set_caseworker("amina".into());
    settings.set_supervisor(true);
    settings.set_caseworkers(model(vec![
        CaseworkerRow {
            user: "amina".into(),
            display: "Amina K.".into(),
            role: "supervisor".into(),
        },
        CaseworkerRow {
            user: "yusuf".into(),
            display: "Yusuf O.".into(),
            role: "caseworker".into(),
        },
    ]));
}
