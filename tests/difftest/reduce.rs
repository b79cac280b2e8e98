//! Delta debugging over the statements of a failing case: the smallest
//! script (by ddmin, then one-by-one removal) that still diverges at its
//! last statement, the one that first diverged.

use crate::check::{run_steps, Stats};
use crate::gen::Step;

/// Whether `steps` diverges at its last step.
fn fails_at_end(steps: &[Step]) -> bool {
    let mut stats = Stats::default();
    matches!(run_steps(steps, &mut stats), Err((i, _)) if i + 1 == steps.len())
}

/// `steps` (which diverge at their last step) made as small as delta
/// debugging can.
pub fn minimize(steps: &[Step]) -> Vec<Step> {
    let Some((last, head)) = steps.split_last() else {
        return Vec::new();
    };
    let with_last = |h: &[Step]| -> Vec<Step> {
        let mut v = h.to_vec();
        v.push(last.clone());
        v
    };
    let mut cur: Vec<Step> = head.to_vec();
    let mut k = 2usize;
    while !cur.is_empty() {
        let chunk = cur.len().div_ceil(k);
        let mut reduced = false;
        let parts = k;
        for i in 0..parts {
            let (s, e) = (i * chunk, ((i + 1) * chunk).min(cur.len()));
            if s >= e {
                break;
            }
            let cand: Vec<Step> = cur[..s].iter().chain(&cur[e..]).cloned().collect();
            if fails_at_end(&with_last(&cand)) {
                cur = cand;
                reduced = true;
                break;
            }
        }
        if reduced {
            k = (k - 1).max(2);
        } else {
            if k >= cur.len() {
                break;
            }
            k = (k * 2).min(cur.len());
        }
    }
    // One by one, from the end (later statements depend on earlier ones).
    let mut i = cur.len();
    while i > 0 {
        i -= 1;
        let mut cand = cur.clone();
        cand.remove(i);
        if fails_at_end(&with_last(&cand)) {
            cur = cand;
        }
    }
    with_last(&cur)
}
