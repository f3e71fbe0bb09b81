//! A mutating step's plan, as data (Terraform's plan → apply): the object changes to
//! make, the per-object reports the module returns, warnings, and refusals (objects that
//! cannot be planned: the task fails, the other changes are still made). Planners build
//! it; the shell's one executor carries it out (or, in check mode, only reports it).

use super::change::ObjectChange;

/// What one step will do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<R> {
    /// The changes, in the order they are applied (each recorded before the first).
    pub changes: Vec<ObjectChange>,
    /// What the module reports per object (settled against what was applied).
    pub reports: R,
    /// Things worth a look that do not fail the task.
    pub warnings: Vec<String>,
    /// Objects that cannot be planned, with why: they fail the task.
    pub refusals: Vec<String>,
}

impl<R> Plan<R> {
    /// A plan with these changes and reports, nothing else.
    pub fn new(changes: Vec<ObjectChange>, reports: R) -> Plan<R> {
        Plan {
            changes,
            reports,
            warnings: Vec::new(),
            refusals: Vec::new(),
        }
    }
}

/// The outcome of planning one object: change it, keep it (already as wanted), skip it
/// (left alone, with the reason in the report) or refuse it (the task fails).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<R> {
    Change(Box<ObjectChange>, R),
    Keep(R),
    Skip(R),
    Refuse(R),
}

impl<R> Decision<R> {
    /// The change, if the object is to change (what a re-plan after a 409 needs).
    pub fn into_change(self) -> Option<ObjectChange> {
        match self {
            Decision::Change(c, _) => Some(*c),
            Decision::Keep(_) | Decision::Skip(_) | Decision::Refuse(_) => None,
        }
    }

    /// The report, whatever the decision.
    pub fn report(&self) -> &R {
        match self {
            Decision::Change(_, r)
            | Decision::Keep(r)
            | Decision::Skip(r)
            | Decision::Refuse(r) => r,
        }
    }
}

/// Collects decisions into a plan: the changes in order and every report; `refusal`
/// says why a refused object fails the task.
pub fn collect<R>(
    decisions: impl IntoIterator<Item = Decision<R>>,
    refusal: impl Fn(&R) -> String,
) -> Plan<Vec<R>> {
    let mut plan = Plan::new(Vec::new(), Vec::new());
    for d in decisions {
        match d {
            Decision::Change(c, r) => {
                plan.changes.push(*c);
                plan.reports.push(r);
            }
            Decision::Keep(r) | Decision::Skip(r) => plan.reports.push(r),
            Decision::Refuse(r) => {
                plan.refusals.push(refusal(&r));
                plan.reports.push(r);
            }
        }
    }
    plan
}
