//! A jwksmith child process that keeps running (`serve`, `watch`): its output collected line by
//! line, bounded waits on it, the address `serve` prints, and a leak scan of everything it
//! printed. Killed and reaped on drop, whatever happens.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Project, assert_no_leak_in_text};

/// How long a wait takes at most unless [`Running::waiting`] says otherwise, so that a failure
/// never hangs CI.
const WAIT: Duration = Duration::from_secs(10);
/// How often a wait loop polls.
const POLL: Duration = Duration::from_millis(25);

/// `jwksmith ARGS` running in a project.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pumps: Vec<JoinHandle<()>>,
    what: String,
    wait: Duration,
}

/// Copies a child's stream line by line into a shared string.
fn pump(stream: impl Read + Send + 'static, sink: Arc<Mutex<String>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => sink.lock().unwrap().push_str(&line),
            }
        }
    })
}

impl Running {
    /// Starts `jwksmith ARGS` in the project.
    pub fn start(p: &Project, args: &[&str]) -> Running {
        Running::start_with(p, args, |_| {})
    }

    /// Starts `jwksmith ARGS` in the project after `configure` has set the command's environment.
    pub fn start_with(p: &Project, args: &[&str], configure: impl FnOnce(&mut Command)) -> Running {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jwksmith"));
        command.args(args).current_dir(p.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().expect("start jwksmith");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let pumps = vec![
            pump(child.stdout.take().unwrap(), stdout.clone()),
            pump(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Running { child, stdout, stderr, pumps, what: format!("jwksmith {}", args.join(" ")), wait: WAIT }
    }

    /// The same process, with waits of at most `wait`.
    pub fn waiting(mut self, wait: Duration) -> Running {
        self.wait = wait;
        self
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// How many builds have finished (each prints one `built …` report line).
    pub fn builds(&self) -> usize {
        self.stdout().lines().filter(|l| l.starts_with("built ")).count()
    }

    /// How many `error:` lines are on stderr.
    pub fn errors(&self) -> usize {
        self.stderr().lines().filter(|l| l.starts_with("error:")).count()
    }

    /// The number of builds once no build has finished for 300 ms.
    pub fn quiet_builds(&self) -> usize {
        let mut builds = self.builds();
        loop {
            thread::sleep(Duration::from_millis(300));
            match self.builds() {
                now if now == builds => return builds,
                now => builds = now,
            }
        }
    }

    /// The command and the last lines of its output, for failure messages.
    pub fn context(&self) -> String {
        fn tail(text: &str) -> String {
            const LINES: usize = 30;
            let lines: Vec<&str> = text.lines().collect();
            let skipped = lines.len().saturating_sub(LINES);
            let head = if skipped > 0 { format!("[{skipped} earlier lines]\n") } else { String::new() };
            head + &lines[skipped..].join("\n")
        }
        format!("{}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.what, tail(&self.stdout()), tail(&self.stderr()))
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Polls `cond` until it holds, and returns how long that took; panics after the wait, or at
    /// once if the process has exited.
    pub fn until(&mut self, what: &str, mut cond: impl FnMut(&Running) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if cond(self) {
                return start.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // One last look: the condition may have become true just before it exited.
                thread::sleep(POLL);
                if cond(self) {
                    return start.elapsed();
                }
                panic!("waiting for {what}: the process exited ({status})\n{}", self.context());
            }
            if start.elapsed() > self.wait {
                panic!("waiting for {what}: nothing after {:?}\n{}", self.wait, self.context());
            }
            thread::sleep(POLL);
        }
    }

    /// Waits (bounded) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.join_pumps();
                return status;
            }
            if start.elapsed() > self.wait {
                panic!("{} was expected to exit but still runs after {:?}\n{}", self.what, self.wait, self.context());
            }
            thread::sleep(POLL);
        }
    }

    /// Waits for the first stdout line, `serving out/public at http://ADDR/`, and returns ADDR.
    pub fn serving_addr(&mut self) -> SocketAddr {
        self.until("the `serving … at http://…/` line on stdout", |r| {
            r.stdout().lines().any(|l| l.starts_with("serving "))
        });
        let out = self.stdout();
        let first = out.lines().next().unwrap();
        let addr = first
            .strip_prefix("serving out/public at http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("first stdout line is not `serving out/public at http://ADDR/`: {first:?}"));
        addr.parse().unwrap_or_else(|e| panic!("{addr:?} in {first:?} is not an address: {e}"))
    }

    /// Waits for serve's address line and its first build; returns the address.
    pub fn served(&mut self) -> SocketAddr {
        let addr = self.serving_addr();
        self.until("the first build", |r| r.builds() >= 1);
        addr
    }

    fn join_pumps(&mut self) {
        for pump in std::mem::take(&mut self.pumps) {
            let _ = pump.join();
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_pumps();
    }

    /// Kills the process and returns everything it printed, checked for leaked private keys.
    pub fn stop(mut self) -> (String, String) {
        self.kill();
        self.scan();
        (self.stdout(), self.stderr())
    }

    fn scan(&self) {
        assert_no_leak_in_text(&self.stdout(), &format!("stdout of {}", self.what));
        assert_no_leak_in_text(&self.stderr(), &format!("stderr of {}", self.what));
    }
}

impl Drop for Running {
    /// Kills the process; what it printed is scanned for private keys unless a test already
    /// failed (a second panic would abort the test binary).
    fn drop(&mut self) {
        self.kill();
        if !thread::panicking() {
            self.scan();
        }
    }
}
