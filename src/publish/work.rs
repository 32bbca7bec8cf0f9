//! Requests in parallel (the store answers many at once; the work is waiting, not computing)
//! and the progress bar of `publish`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::cmd::Context;
use crate::error::Result;

/// Requests in flight at once.
const IN_FLIGHT: usize = 16;

/// `f` over every item on up to [`IN_FLIGHT`] threads, results in item order; the first error
/// (in item order) stops the rest from starting and is returned.
pub(crate) fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<R>)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..IN_FLIGHT.min(items.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    failed.fetch_or(result.is_err(), Ordering::Relaxed);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((i, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// A progress bar on a terminal; hidden with `-q`, in CI (`CI` set) or when stderr is not a TTY.
pub(crate) struct Bar(indicatif::ProgressBar);

impl Bar {
    pub(crate) fn new(ctx: &Context) -> Bar {
        use std::io::IsTerminal;
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        if ctx.ui.is_quiet() || ci || !std::io::stderr().is_terminal() {
            return Bar(indicatif::ProgressBar::hidden());
        }
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template("publishing {bar:30} {pos}/{len} requests ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        Bar(bar)
    }

    pub(crate) fn grow(&self, by: usize) {
        self.0.inc_length(by as u64);
    }

    pub(crate) fn inc(&self) {
        self.0.inc(1);
    }

    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn results_in_order_and_first_error() {
        let items: Vec<usize> = (0..100).collect();
        assert_eq!(parallel(&items, |&i| Ok(i * 2)).unwrap(), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let err = parallel(&items, |&i| if i >= 3 { Err(Error::Failed(format!("no {i}"))) } else { Ok(i) });
        assert_eq!(err.unwrap_err().to_string(), "no 3");
    }
}
