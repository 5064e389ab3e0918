//! Settings: the language (switched at once, no restart), who is signed in, and for a
//! supervisor the caseworkers of this kit (adding one with a first PIN, removing one, which
//! rotates the vault's keys so the removed PIN opens nothing).

use std::rc::Rc;

use fieldkit_vault::{CaseworkerError, Role};
use slint::ComponentHandle;

use super::{Inner, model, now_ms};
use crate::{CaseworkerRow, LanguageOption, MainWindow, SettingsAdapter, lang};

pub(super) fn refresh(inner: &Inner, w: &MainWindow) {
    let a = w.global::<SettingsAdapter>();
    let Some((me, supervisor, list)) = inner.with_kit(|kit| {
        let me = kit.session().caseworker().clone();
        let supervisor = me.role == Role::Supervisor;
        let list = if supervisor {
            kit.session_mut().caseworkers(now_ms()).unwrap_or_default()
        } else {
            Vec::new()
        };
        (me.username, supervisor, list)
    }) else {
        return;
    };
    a.set_caseworker(me.into());
    a.set_supervisor(supervisor);
    a.set_caseworkers(model(
        list.into_iter()
            .map(|c| CaseworkerRow {
                user: c.username.into(),
                display: c.display_name.into(),
                role: match c.role {
                    Role::Supervisor => "supervisor",
                    Role::Caseworker => "caseworker",
                }
                .into(),
            })
            .collect(),
    ));
}

fn outcome_of(e: &CaseworkerError) -> &'static str {
    match e {
        CaseworkerError::WeakCredential(_) => "weak-pin",
        CaseworkerError::CaseworkerExists(_) => "exists",
        other => {
            tracing::warn!("caseworker change refused: {other}");
            "failed"
        }
    }
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow) {
    let a = window.global::<SettingsAdapter>();
    a.set_languages(model(
        lang::LANGUAGES
            .iter()
            .map(|l| LanguageOption {
                code: l.code.into(),
                native: l.native.into(),
            })
            .collect(),
    ));
    let i = inner.clone();
    a.on_choose_language(move |code| {
        let Some(w) = i.window() else { return };
        if let Err(e) = lang::apply(&w, &code) {
            tracing::warn!("{e}");
        }
    });
    let i = inner.clone();
    a.on_add_caseworker(move |user, name, pin, gbv| {
        let Some(w) = i.window() else { return };
        let pin = zeroize::Zeroizing::new(pin.to_string());
        let display = if name.trim().is_empty() {
            user.trim().to_owned()
        } else {
            name.trim().to_owned()
        };
        let done = i.with_kit(|kit| {
            kit.session_mut().add_caseworker(
                user.trim(),
                &display,
                pin.as_bytes(),
                Role::Caseworker,
                gbv,
                now_ms(),
            )
        });
        let a = w.global::<SettingsAdapter>();
        a.set_new_pin("".into());
        match done {
            Some(Ok(())) => {
                a.set_outcome("added".into());
                a.set_new_user("".into());
                a.set_new_name("".into());
                a.set_new_gbv(false);
            }
            Some(Err(e)) => a.set_outcome(outcome_of(&e).into()),
            None => a.set_outcome("failed".into()),
        }
        refresh(&i, &w);
    });
    let i = inner.clone();
    a.on_remove_caseworker(move |user| {
        let Some(w) = i.window() else { return };
        let done = i.with_kit(|kit| kit.session_mut().remove_caseworker(&user, now_ms()));
        let a = w.global::<SettingsAdapter>();
        match done {
            Some(Ok(())) => a.set_outcome("removed".into()),
            Some(Err(e)) => a.set_outcome(outcome_of(&e).into()),
            None => a.set_outcome("failed".into()),
        }
        refresh(&i, &w);
    });
}
