//! The home page: how many cases and tracing requests the kit holds, the urgent open cases
//! (the first few listed as alerts), and the potential matches waiting for review.

use std::rc::Rc;

use fieldkit_app::{CaseFilter, MatchFilter};
use fieldkit_domain::{RecordId, RecordKind, status};
use slint::ComponentHandle;

use super::{Inner, model, now_ms};
use crate::{AlertItem, AppState, CaseFormAdapter, HomeAdapter, MainWindow, Page};

/// How many urgent cases the home page lists by name.
const ALERTS_SHOWN: usize = 5;

/// What the home page shows, read from the kit.
struct Glance {
    cases: u64,
    tracing_requests: u64,
    urgent: usize,
    pending: usize,
    alerts: Vec<AlertItem>,
    caseworker: String,
}

fn glance(inner: &Inner) -> Option<Glance> {
    inner.with_kit(|kit| {
        let now = now_ms();
        let cases = kit.session().count(RecordKind::Case).unwrap_or(0);
        let tracing_requests = kit.session().count(RecordKind::TracingRequest).unwrap_or(0);
        let urgent_filter = CaseFilter {
            status: Some(status::OPEN.into()),
            urgent: true,
            ..CaseFilter::default()
        };
        let urgent = kit.case_positions(&urgent_filter, now).unwrap_or_else(|e| {
            tracing::warn!("urgent cases not counted: {e}");
            Vec::new()
        });
        // Newest first: the last positions are the latest registrations.
        let newest: Vec<u32> = urgent
            .iter()
            .rev()
            .take(ALERTS_SHOWN)
            .rev()
            .copied()
            .collect();
        let mut alerts: Vec<AlertItem> = kit
            .case_page(&newest, now)
            .unwrap_or_default()
            .into_iter()
            .map(|s| AlertItem {
                id: s.id.to_string().into(),
                name: s.name.clone().into(),
                reason: [s.age.map(|a| a.to_string()), s.location.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ")
                    .into(),
                risk: s.risk_level.clone().unwrap_or_default().into(),
            })
            .collect();
        alerts.reverse();
        let pending = kit
            .potential_matches(&MatchFilter {
                status: Some("pending".into()),
                ..MatchFilter::default()
            })
            .len();
        Glance {
            cases,
            tracing_requests,
            urgent: urgent.len(),
            pending,
            alerts,
            caseworker: kit.session().caseworker().username.clone(),
        }
    })
}

pub(super) fn refresh(inner: &Inner, w: &MainWindow) {
    let Some(g) = glance(inner) else { return };
    let home = w.global::<HomeAdapter>();
    let int = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    home.set_cases(int(g.cases));
    home.set_tracing_requests(int(g.tracing_requests));
    home.set_urgent(int(g.urgent as u64));
    home.set_pending_matches(int(g.pending as u64));
    home.set_alerts(model(g.alerts));
    w.global::<AppState>().set_caseworker(g.caseworker.into());
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow) {
    let home = window.global::<HomeAdapter>();
    let i = inner.clone();
    home.on_new_case(move || {
        if let Some(w) = i.window() {
            super::form::open_case(&i, &w, None);
        }
    });
    let i = inner.clone();
    home.on_new_tracing_request(move || {
        if let Some(w) = i.window() {
            super::form::open_tracing(&i, &w);
        }
    });
    let i = inner.clone();
    home.on_open_cases(move || i.navigate(Page::Cases));
    let i = inner.clone();
    home.on_open_review(move || i.navigate(Page::Review));
    let i = inner.clone();
    home.on_open_alert(move |id| {
        let Some(w) = i.window() else { return };
        if let Ok(id) = id.parse::<RecordId>() {
            super::form::open_case(&i, &w, Some(id));
        }
        w.global::<CaseFormAdapter>()
            .set_section(crate::CaseSection::Concerns);
    });
}
