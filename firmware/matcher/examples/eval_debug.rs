//! Prints wrong likely matches and missed children on the tuning seed, with explanations.
use fieldkit_match::eval::population::{PopulationSpec, generate};
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex, Side};
use fieldkit_match::profile::{ChildProfile, Locations};

fn main() {
    let cases: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    let what = std::env::args().nth(2).unwrap_or_else(|| "fp".into());
    let p = generate(PopulationSpec::with_cases(1, cases));
    let loc = Locations::Tree(&p.locations);
    let index = ProfileIndex::new(
        p.cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &loc, p.today))
            .collect(),
    );
    let mut s = MatchSettings::default();
    s.likely = std::env::var("LIKELY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(s.likely);
    let mut shown = 0;
    for (r, truth) in p.requests.iter().zip(&p.trace_child) {
        for (t, &child) in r.traces().iter().zip(truth) {
            let q = ChildProfile::from_trace(r, t, &loc, p.today);
            let hits = index.find(&q, Side::Sought, &s, true);
            let show = |h: &fieldkit_match::matcher::PotentialMatch| {
                let c = &p.cases[h.index];
                println!(
                    "  case {:?} age {:?} sex {:?} fam {:?} -> {:.1} {:?} right={}",
                    c.name,
                    c.age,
                    c.sex,
                    c.family_details_section
                        .iter()
                        .map(|m| m.relation_name.clone().unwrap_or_default())
                        .collect::<Vec<_>>(),
                    h.weight,
                    h.likelihood,
                    p.case_child[h.index] == child
                );
                for f in &h.fields {
                    println!("      {} {:+.1} {}", f.field, f.weight, f.detail);
                }
            };
            let registered = p.case_child.contains(&child);
            let bad = match what.as_str() {
                "fp" => hits
                    .iter()
                    .any(|h| h.likelihood == Likelihood::Likely && p.case_child[h.index] != child),
                _ => registered && !hits.iter().take(5).any(|h| p.case_child[h.index] == child),
            };
            if bad && shown < 12 {
                shown += 1;
                println!(
                    "TRACE {:?} nick {:?} age {:?} sex {:?} inquirer {:?} ({:?})",
                    t.name, t.name_nickname, t.age, t.sex, r.relation_name, r.relation
                );
                for h in hits.iter().take(3) {
                    show(h);
                }
                if what != "fp" {
                    for (i, c) in p.cases.iter().enumerate() {
                        if p.case_child[i] == child {
                            println!(
                                "  TRUE case {:?} age {:?} sex {:?} fam {:?}",
                                c.name,
                                c.age,
                                c.sex,
                                c.family_details_section
                                    .iter()
                                    .map(|m| m.relation_name.clone().unwrap_or_default())
                                    .collect::<Vec<_>>()
                            );
                            let cp = ChildProfile::from_case(c, &loc, p.today);
                            let cmp = fieldkit_match::compare::compare(
                                &q,
                                &cp,
                                index.frequencies(),
                                &s.weights,
                                true,
                            );
                            println!("      total {:.1}", cmp.weight);
                            for f in &cmp.fields {
                                println!("      {} {:+.1} {}", f.field, f.weight, f.detail);
                            }
                        }
                    }
                }
            }
        }
    }
}
