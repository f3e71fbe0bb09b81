//! Progress for people, on stderr (indicatif): a spinner for long waits (the canary's
//! node, the machine-config-server pods, the run lock, the revert check), a count for the
//! objects being written, bytes for the vSphere OVA download and upload.
//!
//! Off unless the CLI turns it on ([`enable`]), which it does only when stderr is a
//! terminal and `--no-progress` was not given: Ansible mode never shows progress (its
//! stderr is captured, and a module prints one JSON object and nothing else), and neither
//! does a CLI whose stderr is a file or a pipe. A shown bar is cleared when it ends, so
//! what stays on the terminal is the command's output alone.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// How often a spinner turns.
const TICK: Duration = Duration::from_millis(120);

/// Turns progress on (or off) for this process.
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether progress is shown.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What a progress line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A wait: a spinner, the message and the time waited.
    Wait,
    /// Objects written: `n/total`.
    Count,
    /// Bytes moved (a bar when the total is known).
    Bytes,
}

/// The indicatif template of a kind; `known_total` for bytes.
fn template(kind: Kind, known_total: bool) -> &'static str {
    match (kind, known_total) {
        (Kind::Wait, _) => "{spinner} {wide_msg} [{elapsed_precise}]",
        (Kind::Count, _) => "{spinner} {msg} {pos}/{len} [{elapsed_precise}]",
        (Kind::Bytes, true) => {
            "{spinner} {msg} {bytes}/{total_bytes} ({binary_bytes_per_sec}, eta {eta})"
        }
        (Kind::Bytes, false) => "{spinner} {msg} {bytes} ({binary_bytes_per_sec})",
    }
}

/// One progress line; cleared when dropped.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    kind: Kind,
}

impl Progress {
    /// A progress line on stderr, or a hidden one when progress is off.
    pub fn new(kind: Kind, total: Option<u64>, message: impl Into<Cow<'static, str>>) -> Progress {
        let target = if enabled() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress::to(target, kind, total, message)
    }

    /// A wait of unknown length (a spinner).
    pub fn wait(message: impl Into<Cow<'static, str>>) -> Progress {
        Progress::new(Kind::Wait, None, message)
    }

    /// `total` objects to write.
    pub fn count(total: usize, message: impl Into<Cow<'static, str>>) -> Progress {
        Progress::new(Kind::Count, Some(total as u64), message)
    }

    /// Bytes to move (`total` when known).
    pub fn bytes(total: Option<u64>, message: impl Into<Cow<'static, str>>) -> Progress {
        Progress::new(Kind::Bytes, total, message)
    }

    /// A progress line drawn to `target`.
    fn to(
        target: ProgressDrawTarget,
        kind: Kind,
        total: Option<u64>,
        message: impl Into<Cow<'static, str>>,
    ) -> Progress {
        let bar = ProgressBar::with_draw_target(total, target);
        if let Ok(style) = ProgressStyle::with_template(template(kind, total.is_some())) {
            bar.set_style(style);
        }
        bar.set_message(message);
        if kind == Kind::Wait && !bar.is_hidden() {
            bar.enable_steady_tick(TICK);
        }
        Progress { bar, kind }
    }

    /// Changes the message.
    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        self.bar.set_message(message);
    }

    /// Sets how far it is (objects or bytes), and the total when it became known.
    pub fn set(&self, done: u64, total: Option<u64>) {
        if let Some(t) = total {
            if self.bar.length() != Some(t) {
                if self.kind == Kind::Bytes && self.bar.length().is_none() {
                    if let Ok(style) = ProgressStyle::with_template(template(self.kind, true)) {
                        self.bar.set_style(style);
                    }
                }
                self.bar.set_length(t);
            }
        }
        self.bar.set_position(done);
    }

    /// One more object done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that keeps what was written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().unwrap().join("")
        }
        fn push(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("<clear>")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn on_screen(kind: Kind, total: Option<u64>, message: &'static str) -> (Progress, Screen) {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        (Progress::to(target, kind, total, message), screen)
    }

    #[test]
    fn a_count_shows_done_of_total_and_the_message() {
        let (p, screen) = on_screen(Kind::Count, Some(1000), "writing MachineSets");
        for _ in 0..250 {
            p.inc();
        }
        p.bar.tick();
        let text = screen.text();
        assert!(
            text.contains("writing MachineSets 250/1000 [00:00:0"),
            "{text}"
        );
        drop(p);
        assert!(screen.text().ends_with("<clear>"), "cleared at the end");
    }

    #[test]
    fn bytes_show_a_total_once_it_is_known() {
        let (p, screen) = on_screen(Kind::Bytes, None, "downloading the OVA");
        p.set(3 << 20, None);
        p.bar.tick();
        assert!(
            screen.text().contains("downloading the OVA 3.00 MiB ("),
            "{}",
            screen.text()
        );
        p.set(5 << 20, Some(10 << 20));
        p.bar.tick();
        assert!(
            screen
                .text()
                .contains("downloading the OVA 5.00 MiB/10.00 MiB ("),
            "{}",
            screen.text()
        );
    }

    #[test]
    fn a_wait_shows_its_message_and_the_time_waited() {
        let (p, screen) = on_screen(Kind::Wait, None, "canary");
        p.set_message("canary of ms-a: waiting for node n-1 to be Ready and log its build");
        p.bar.tick();
        let text = screen.text();
        assert!(
            text.contains("canary of ms-a: waiting for node n-1 to be Ready and log its build")
                && text.contains("[00:00:0"),
            "{text}"
        );
    }

    #[test]
    fn off_by_default_nothing_is_drawn() {
        assert!(!enabled());
        let p = Progress::count(3, "writing");
        p.inc();
        assert!(p.bar.is_hidden());
    }
}
