//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT while ftpy changes something (an install, a project's
//! environments): instead of dying half-way, ftpy notes the signal, stops its children, puts
//! back what it was replacing, and exits 130.
//!
//! Guards nest: the flag is cleared only by the outermost one, so an inner guard (an install
//! run on behalf of another command) cannot forget a signal that arrived before it.

use std::fs::{File, TryLockError};
use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod leftovers;

pub use leftovers::{reap_leftover_groups, record_group, record_groups_in};

/// How many signals arrived while a guard was alive: the first asks children to stop, a
/// second forces them.
static SIGNALS_SEEN: AtomicUsize = AtomicUsize::new(0);

/// How many guards are alive.
static DEPTH: AtomicUsize = AtomicUsize::new(0);

/// The handlers in place before the outermost guard.
static PREVIOUS: Mutex<[libc::sighandler_t; 4]> = Mutex::new([0; 4]);

const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// What the first signal says at once on stderr, before the work has stopped (which can take
/// seconds: make's compilers finish their files). Chosen by the innermost guard that names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Notice {
    /// Say nothing: the work stops quickly, or says so itself.
    Silent = 0,
    /// An install: "stopping the build…".
    Build = 1,
}

/// The one line each [`Notice`] writes, as bytes for write(2). With and without clearing the
/// terminal's current line first (a progress bar may be on it).
const NOTICE_TEXT: [&[u8]; 2] = [b"", "stopping the build\u{2026} (a second Ctrl-C forces it)\n".as_bytes()];
const CLEAR_LINE: &[u8] = b"\r\x1b[2K";

static NOTICE: AtomicU8 = AtomicU8::new(Notice::Silent as u8);
/// Whether stderr was a terminal when the outermost guard was installed.
static STDERR_IS_TERMINAL: AtomicBool = AtomicBool::new(false);

extern "C" fn note_signal(_: libc::c_int) {
    if SIGNALS_SEEN.fetch_add(1, Ordering::SeqCst) == 0 {
        let text = NOTICE_TEXT[usize::from(NOTICE.load(Ordering::SeqCst)).min(NOTICE_TEXT.len() - 1)];
        if !text.is_empty() {
            // SAFETY: write(2) is async-signal-safe; the buffers are constants. A short or
            // failed write loses only the notice.
            unsafe {
                if STDERR_IS_TERMINAL.load(Ordering::SeqCst) {
                    libc::write(libc::STDERR_FILENO, CLEAR_LINE.as_ptr().cast(), CLEAR_LINE.len());
                }
                libc::write(libc::STDERR_FILENO, text.as_ptr().cast(), text.len());
            }
        }
    }
}

/// While alive, SIGINT, SIGTERM, SIGHUP and SIGQUIT set a flag instead of ending the process.
pub struct Guard {
    /// The notice in force before this guard, put back when it goes.
    previous_notice: u8,
}

impl Guard {
    /// A guard whose first signal writes `notice` at once (see [`Notice`]).
    pub fn install_with(notice: Notice) -> Guard {
        let guard = Guard::install();
        NOTICE.store(notice as u8, Ordering::SeqCst);
        guard
    }

    pub fn install() -> Guard {
        let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        if DEPTH.load(Ordering::SeqCst) == 0 {
            SIGNALS_SEEN.store(0, Ordering::SeqCst);
            NOTICE.store(Notice::Silent as u8, Ordering::SeqCst);
            STDERR_IS_TERMINAL.store(std::io::IsTerminal::is_terminal(&std::io::stderr()), Ordering::SeqCst);
            let handler = note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            for (slot, signal) in previous.iter_mut().zip(SIGNALS) {
                // SAFETY: the handler only touches an atomic, which is async-signal-safe.
                *slot = unsafe { libc::signal(signal, handler) };
                // A signal ftpy was started with ignored stays ignored (`nohup ftpy ...` must
                // survive the terminal closing, a script's `ftpy ... &` the shell's Ctrl-C).
                if *slot == libc::SIG_IGN {
                    // SAFETY: as above.
                    unsafe { libc::signal(signal, libc::SIG_IGN) };
                }
            }
        }
        DEPTH.fetch_add(1, Ordering::SeqCst);
        Guard { previous_notice: NOTICE.load(Ordering::SeqCst) }
    }

    pub fn interrupted(&self) -> bool {
        requested()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        NOTICE.store(self.previous_notice, Ordering::SeqCst);
        if DEPTH.fetch_sub(1, Ordering::SeqCst) == 1 {
            for (handler, signal) in previous.iter().zip(SIGNALS) {
                // SAFETY: restores the handlers that were there before the outermost guard.
                unsafe { libc::signal(signal, *handler) };
            }
        }
    }
}

/// A signal arrived while a guard was alive (and one still is). Long work polls this to stop.
pub fn requested() -> bool {
    signals_seen() > 0
}

fn signals_seen() -> usize {
    if DEPTH.load(Ordering::SeqCst) == 0 {
        return 0;
    }
    SIGNALS_SEEN.load(Ordering::SeqCst)
}

/// Prepare a child that ftpy waits on (a build step, pip, an interpreter check):
///
/// - While a guard is alive, start it in a process group of its own, so that
///   [`wait_stopping_on_signal`] can stop it with everything it started (make's compilers, pip's
///   build backends) even when the signal was sent to ftpy alone, and so that the terminal's
///   Ctrl-C reaches ftpy only, which then stops it in order. It also gets SIGTERM if ftpy dies
///   (`kill -9`) rather than building on unowned; what it started is stopped by the next ftpy
///   run, from the group's record ([`record_group`]). Without a guard the child stays in ftpy's
///   group and gets the terminal's Ctrl-C directly, as ftpy does.
/// - Give it the default SIGINT and SIGQUIT. A job a shell script starts with `&` inherits
///   both ignored, and CPython's test suite then fails: test_generators expects
///   `signal.raise_signal(SIGINT)` to raise KeyboardInterrupt, and that test is part of the PGO
///   training run, so every optimized build started that way failed.
pub fn prepare_child(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let guarded = DEPTH.load(Ordering::SeqCst) > 0;
    if guarded {
        command.process_group(0);
    }
    // SAFETY: runs in the child between fork and exec; signal(2) and prctl(2) are
    // async-signal-safe, and nothing else is touched.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            #[cfg(target_os = "linux")]
            if guarded {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
            }
            Ok(())
        })
    }
}

/// How long a child gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Wait for `child`; once a signal has been noted, send SIGTERM (and SIGCONT, in case it was
/// stopped) to its process group (see [`prepare_child`]) and go on waiting. A second signal, or
/// [`STOP_GRACE`] without an end, sends SIGKILL.
///
/// Once it has ended after a signal, what is left of its group (something that ignores
/// SIGTERM) gets a few seconds, then SIGKILL: it would otherwise keep the build log's pipe, and
/// with it ftpy, open.
pub fn wait_stopping_on_signal(child: &mut Child) -> io::Result<ExitStatus> {
    wait_stopping_on_signal_with(child, || {})
}

/// [`wait_stopping_on_signal`], calling `on_exit` once the child has exited but before it is
/// reaped, while `/proc/<pid>` still holds what it used (its CPU times and its children's).
pub fn wait_stopping_on_signal_with(child: &mut Child, on_exit: impl FnOnce()) -> io::Result<ExitStatus> {
    let mut on_exit = Some(on_exit);
    let leader = leftovers::GroupLeader::of(child);
    let mut asked: Option<Instant> = None;
    let mut killed = false;
    loop {
        if has_exited_unreaped(child) {
            if let Some(f) = on_exit.take() {
                f();
            }
        }
        if let Some(status) = child.try_wait()? {
            if let Some(leader) = leader.filter(|_| signals_seen() > 0) {
                leftovers::stop_rest_of_group(leader);
            }
            return Ok(status);
        }
        let seen = signals_seen();
        if seen > 0 && asked.is_none() {
            signal_child(child, libc::SIGTERM);
            signal_child(child, libc::SIGCONT);
            asked = Some(Instant::now());
        }
        if !killed && asked.is_some_and(|at| seen > 1 || at.elapsed() > STOP_GRACE) {
            signal_child(child, libc::SIGKILL);
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the child has exited, leaving it a zombie for `try_wait` to reap.
fn has_exited_unreaped(child: &Child) -> bool {
    // SAFETY: waitid on our own, not yet reaped child, into a zeroed siginfo; WNOWAIT leaves
    // it waitable, WNOHANG returns at once.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

/// Send `signal` to the child's process group when it leads one, else to the child alone.
fn signal_child(child: &Child, signal: libc::c_int) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child, not yet reaped (try_wait saw it running), so its pid,
    // and with it the group id it leads, is still its own.
    unsafe {
        if libc::getpgid(pid) == pid {
            libc::kill(-pid, signal);
        } else {
            libc::kill(pid, signal);
        }
    }
}

/// Take an exclusive lock on `file`, calling `on_wait` once if another process holds it. While
/// waiting, a noted signal ends the wait with an `Interrupted` error (flock itself would not
/// return: handlers are installed with SA_RESTART).
pub fn lock_exclusive(file: &File, on_wait: impl FnOnce()) -> io::Result<()> {
    match file.try_lock() {
        Ok(()) => return Ok(()),
        Err(TryLockError::WouldBlock) => on_wait(),
        Err(TryLockError::Error(e)) => return Err(e),
    }
    loop {
        if requested() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "stopped by a signal while waiting"));
        }
        if DEPTH.load(Ordering::SeqCst) == 0 {
            // No guard: a signal ends the process, so a plain blocking wait is fine.
            return file.lock();
        }
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(100)),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}
