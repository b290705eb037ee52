//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT while ftpy changes something (an install, a project's
//! environments): instead of dying half-way, ftpy notes the signal, stops its children, puts
//! back what it was replacing, and exits 130.
//!
//! Guards nest: the flag is cleared only by the outermost one, so an inner guard (an install
//! run on behalf of another command) cannot forget a signal that arrived before it.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How many guards are alive.
static DEPTH: AtomicUsize = AtomicUsize::new(0);

/// The handlers in place before the outermost guard.
static PREVIOUS: Mutex<[libc::sighandler_t; 4]> = Mutex::new([0; 4]);

const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn note_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT, SIGTERM, SIGHUP and SIGQUIT set a flag instead of ending the process.
pub struct Guard {
    _private: (),
}

impl Guard {
    pub fn install() -> Guard {
        let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        if DEPTH.load(Ordering::SeqCst) == 0 {
            INTERRUPTED.store(false, Ordering::SeqCst);
            let handler = note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            for (slot, signal) in previous.iter_mut().zip(SIGNALS) {
                // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
                *slot = unsafe { libc::signal(signal, handler) };
            }
        }
        DEPTH.fetch_add(1, Ordering::SeqCst);
        Guard { _private: () }
    }

    pub fn interrupted(&self) -> bool {
        requested()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
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
    DEPTH.load(Ordering::SeqCst) > 0 && INTERRUPTED.load(Ordering::SeqCst)
}

/// Prepare a child that ftpy waits on (a build step, pip):
///
/// - While a guard is alive, start it in a process group of its own, so that
///   [`wait_stopping_on_signal`] can stop it with everything it started (make's compilers, pip's
///   build backends), even when the signal was sent to ftpy alone. Without a guard the child
///   stays in ftpy's group and gets the terminal's Ctrl-C directly, as ftpy does.
/// - Give it the default SIGINT and SIGQUIT. A job a shell script starts with `&` (or `nohup`)
///   inherits both ignored, and CPython's test suite then fails: test_generators expects
///   `signal.raise_signal(SIGINT)` to raise KeyboardInterrupt, and that test is part of the PGO
///   training run, so every optimized build started that way failed.
pub fn prepare_child(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if DEPTH.load(Ordering::SeqCst) > 0 {
        command.process_group(0);
    }
    // SAFETY: runs in the child between fork and exec; signal(2) is async-signal-safe, and
    // nothing else is touched.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        })
    }
}

/// Wait for `child`; once a signal has been noted, send SIGTERM to its process group (once, see
/// [`prepare_child`]) and go on waiting for it to end.
pub fn wait_stopping_on_signal(child: &mut Child) -> io::Result<ExitStatus> {
    let mut stopped = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if requested() && !stopped {
            // SAFETY: kill(2) on our own child's process group. The child has not been reaped
            // (try_wait saw it running), so its pid, and with it the group id, is still its own.
            // Without its own group the pgid is ftpy's: signal the child alone then.
            let pid = child.id() as libc::pid_t;
            unsafe {
                if libc::getpgid(pid) == pid {
                    libc::kill(-pid, libc::SIGTERM);
                } else {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            stopped = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
