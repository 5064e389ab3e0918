//! The case list: a [`slint::Model`] that pages through the vault's sealed summaries. The list
//! view asks only for the rows it draws; the model reads those a page at a time (one audited
//! list read per page), keeps a few pages, and forgets the rest. Without a filter it holds only
//! the count; with filters it holds the positions of the cases that pass (four bytes a case);
//! a search holds its results (at most [`SEARCH_LIMIT`]). Newest cases come first.
//!
//! Thumbnails are not kept with the pages: a row's thumbnail is decoded when the list asks for
//! the row and kept in a small cache of the latest [`THUMBS_KEPT`] cases (about 50 KiB each
//! decoded), so scrolling through thousands of cases holds a screenful or two of pictures,
//! not every page's (at 50,000 cases this was most of the screen's own memory).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use fieldkit_app::CaseFilter;
use fieldkit_domain::{Record, RecordId, RecordKind, Summary, status};
use slint::{ComponentHandle, Model, ModelNotify, ModelRc, ModelTracker, SharedString};

use super::{Inner, SharedKit, lock_slot, now_ms};
use crate::{CaseListAdapter, CaseRow, MainWindow};

/// Rows read from the vault at a time.
pub const PAGE: usize = 32;
/// Pages kept in memory (a screenful is two or three).
const PAGES_KEPT: usize = 12;
/// Decoded thumbnails kept (a 1280×800 screen shows 13 rows; scrolling back finds them).
pub const THUMBS_KEPT: usize = 40;
/// The most results a search shows.
pub const SEARCH_LIMIT: usize = 200;

#[derive(Debug, Default)]
enum Source {
    /// Every case: row `r` is position `count - 1 - r`.
    #[default]
    Nothing,
    All(usize),
    /// The positions that pass the filters, ascending; row `r` is the last but `r`.
    Positions(Vec<u32>),
    /// Search results, best first.
    Found(Vec<Summary>),
}

/// The case list's model.
pub struct CasePager {
    kit: SharedKit,
    source: RefCell<Source>,
    pages: RefCell<HashMap<usize, Rc<Vec<CaseRow>>>>,
    thumbs: RefCell<Thumbs>,
    reads: Cell<u64>,
    notify: ModelNotify,
}

impl std::fmt::Debug for CasePager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CasePager")
            .field("rows", &self.row_count())
            .field("pages_kept", &self.pages.borrow().len())
            .field("thumbs_kept", &self.thumbs.borrow().order.len())
            .finish_non_exhaustive()
    }
}

/// A case's thumbnail as the list keeps it.
#[derive(Clone)]
enum Thumb {
    Decoded(slint::Image),
    /// The case has no photo (or its thumbnail could not be read).
    NoPhoto,
}

/// The latest thumbnails decoded, by case, oldest first.
#[derive(Default)]
struct Thumbs {
    order: VecDeque<RecordId>,
    images: HashMap<RecordId, Thumb>,
}

impl Thumbs {
    fn get(&mut self, id: RecordId) -> Option<Thumb> {
        let got = self.images.get(&id)?.clone();
        if let Some(at) = self.order.iter().position(|i| *i == id) {
            self.order.remove(at);
        }
        self.order.push_back(id);
        Some(got)
    }

    fn put(&mut self, id: RecordId, image: Thumb) {
        while self.order.len() >= THUMBS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.images.remove(&old);
            }
        }
        self.order.push_back(id);
        self.images.insert(id, image);
    }

    fn clear(&mut self) {
        self.order.clear();
        self.images.clear();
    }
}

fn row_of(s: &Summary) -> CaseRow {
    // The sex is a lookup id the page shows translated; the rest is the child's own data.
    let details: Vec<String> = [s.age.map(|a| a.to_string()), s.location.clone()]
        .into_iter()
        .flatten()
        .collect();
    CaseRow {
        id: s.id.to_string().into(),
        short_id: s.id.short().into(),
        name: SharedString::from(s.name.as_str()),
        sex: s.sex.map(|x| x.as_str()).unwrap_or_default().into(),
        details: details.join(" · ").into(),
        risk: s.risk_level.clone().unwrap_or_default().into(),
        urgent: s.urgent,
        closed: s.status.as_deref() == Some(status::CLOSED),
        thumbnail: slint::Image::default(),
        has_thumbnail: false,
    }
}

impl CasePager {
    /// An empty list over the shared kit.
    pub fn new(kit: SharedKit) -> CasePager {
        CasePager {
            kit,
            source: RefCell::default(),
            pages: RefCell::default(),
            thumbs: RefCell::default(),
            reads: Cell::new(0),
            notify: ModelNotify::default(),
        }
    }

    /// How many pages were read from the vault so far (for benchmarks).
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    fn set(&self, source: Source) {
        *self.source.borrow_mut() = source;
        self.pages.borrow_mut().clear();
        self.notify.reset();
    }

    /// Forgets the rows read, so the next draw reads them again (a photo attached or removed).
    pub fn forget_rows(&self) {
        self.pages.borrow_mut().clear();
        self.thumbs.borrow_mut().clear();
        self.notify.reset();
    }

    /// Forgets everything (on sign-out).
    pub fn clear(&self) {
        self.thumbs.borrow_mut().clear();
        self.set(Source::Nothing);
    }

    /// Lists cases passing `filter`, or the results of `query` that pass it. Returns the
    /// number of cases the vault holds.
    pub fn show(&self, query: &str, filter: &CaseFilter) -> u64 {
        let now = now_ms();
        let mut slot = lock_slot(&self.kit);
        let super::KitSlot::Open(kit) = &mut *slot else {
            drop(slot);
            self.clear();
            return 0;
        };
        let total = kit.session().count(RecordKind::Case).unwrap_or(0);
        let source = if !query.trim().is_empty() {
            let found = kit
                .session_mut()
                .search(RecordKind::Case, query.trim(), SEARCH_LIMIT, now)
                .unwrap_or_else(|e| {
                    tracing::warn!("search failed: {e}");
                    Vec::new()
                });
            let mut found: Vec<Summary> = found.into_iter().filter(|s| filter.admits(s)).collect();
            if let Some(concern) = &filter.concern {
                let wanted: Vec<(RecordKind, RecordId)> =
                    found.iter().map(|s| (RecordKind::Case, s.id)).collect();
                let with: std::collections::HashSet<RecordId> = kit
                    .session_mut()
                    .get_many(&wanted, now)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| match o.record {
                        Record::Case(c) if c.has_concern(concern) => Some(c.id),
                        _ => None,
                    })
                    .collect();
                found.retain(|s| with.contains(&s.id));
            }
            Source::Found(found)
        } else if filter.is_empty() {
            Source::All(usize::try_from(total).unwrap_or(usize::MAX))
        } else {
            Source::Positions(kit.case_positions(filter, now).unwrap_or_else(|e| {
                tracing::warn!("case filter failed: {e}");
                Vec::new()
            }))
        };
        drop(slot);
        self.set(source);
        total
    }

    fn load(&self, page: usize) -> Rc<Vec<CaseRow>> {
        if let Some(p) = self.pages.borrow().get(&page) {
            return p.clone();
        }
        let start = page * PAGE;
        let rows: Vec<CaseRow> = match &*self.source.borrow() {
            Source::Nothing => Vec::new(),
            Source::Found(found) => found.iter().skip(start).take(PAGE).map(row_of).collect(),
            Source::All(count) => {
                // Rows [start, start+PAGE) are positions count-1-start down to count-start-PAGE.
                let end = count.saturating_sub(start);
                let first = end.saturating_sub(PAGE);
                let mut slot = lock_slot(&self.kit);
                let mut got = match &mut *slot {
                    super::KitSlot::Open(kit) => kit
                        .session_mut()
                        .list_audited(RecordKind::Case, first, end - first, now_ms())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                got.reverse();
                got.iter().map(row_of).collect()
            }
            Source::Positions(positions) => {
                let end = positions.len().saturating_sub(start);
                let first = end.saturating_sub(PAGE);
                let mut slot = lock_slot(&self.kit);
                let mut got = match &mut *slot {
                    super::KitSlot::Open(kit) => kit
                        .case_page(&positions[first..end], now_ms())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                got.reverse();
                got.iter().map(row_of).collect()
            }
        };
        self.reads.set(self.reads.get() + 1);
        let rows = Rc::new(rows);
        let mut pages = self.pages.borrow_mut();
        if pages.len() >= PAGES_KEPT {
            // Forget the page farthest from the one asked for.
            if let Some(far) = pages.keys().copied().max_by_key(|p| p.abs_diff(page)) {
                pages.remove(&far);
            }
        }
        pages.insert(page, rows.clone());
        rows
    }
}

impl CasePager {
    /// A case's first thumbnail, decoded once and kept among the latest [`THUMBS_KEPT`].
    fn thumbnail(&self, id: RecordId) -> Option<slint::Image> {
        let kept = self.thumbs.borrow_mut().get(id);
        let thumb = match kept {
            Some(kept) => kept,
            None => {
                let image = match &*lock_slot(&self.kit) {
                    super::KitSlot::Open(kit) => super::photos::thumbnail(kit, id),
                    _ => return None,
                };
                let thumb = image.map_or(Thumb::NoPhoto, Thumb::Decoded);
                self.thumbs.borrow_mut().put(id, thumb.clone());
                thumb
            }
        };
        match thumb {
            Thumb::Decoded(image) => Some(image),
            Thumb::NoPhoto => None,
        }
    }

    /// How many decoded thumbnails the list holds (for benchmarks and tests).
    pub fn thumbnails_kept(&self) -> usize {
        self.thumbs
            .borrow()
            .images
            .values()
            .filter(|t| matches!(t, Thumb::Decoded(_)))
            .count()
    }
}

impl Model for CasePager {
    type Data = CaseRow;

    fn row_count(&self) -> usize {
        match &*self.source.borrow() {
            Source::Nothing => 0,
            Source::All(n) => *n,
            Source::Positions(p) => p.len(),
            Source::Found(f) => f.len(),
        }
    }

    fn row_data(&self, row: usize) -> Option<CaseRow> {
        if row >= self.row_count() {
            return None;
        }
        let mut data = self.load(row / PAGE).get(row % PAGE).cloned()?;
        if let Ok(id) = data.id.parse::<RecordId>()
            && let Some(image) = self.thumbnail(id)
        {
            data.thumbnail = image;
            data.has_thumbnail = true;
        }
        Some(data)
    }

    fn model_tracker(&self) -> &dyn ModelTracker {
        &self.notify
    }
}

/// The filters the page has set.
fn filter_of(w: &MainWindow) -> CaseFilter {
    let a = w.global::<CaseListAdapter>();
    let some = |s: SharedString| (!s.is_empty()).then(|| s.to_string());
    CaseFilter {
        risk: some(a.get_risk()),
        status: some(a.get_status()),
        concern: some(a.get_concern()),
        urgent: false,
    }
}

pub(super) fn refresh(inner: &Inner, w: &MainWindow) {
    let a = w.global::<CaseListAdapter>();
    let total = inner.cases.show(&a.get_query(), &filter_of(w));
    a.set_total(i32::try_from(total).unwrap_or(i32::MAX));
    a.set_shown(i32::try_from(inner.cases.row_count()).unwrap_or(i32::MAX));
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow) {
    let a = window.global::<CaseListAdapter>();
    a.set_rows(ModelRc::from(
        inner.cases.clone() as Rc<dyn Model<Data = CaseRow>>
    ));
    let i = inner.clone();
    a.on_search(move |_| {
        if let Some(w) = i.window() {
            refresh(&i, &w);
        }
    });
    let i = inner.clone();
    a.on_filters_changed(move || {
        if let Some(w) = i.window() {
            refresh(&i, &w);
        }
    });
    let i = inner.clone();
    a.on_open(move |id| {
        let Some(w) = i.window() else { return };
        if let Ok(id) = id.parse::<RecordId>() {
            super::form::open_case(&i, &w, Some(id));
        }
    });
    let i = inner.clone();
    a.on_new_case(move || {
        if let Some(w) = i.window() {
            super::form::open_case(&i, &w, None);
        }
    });
}

/// Forgets the list's rows (a photo changed on a case).
pub(super) fn forget_pages(inner: &Inner) {
    inner.cases.forget_rows();
}
