//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT while ftpy changes a project: instead of dying half-way, ftpy notes the
//! signal, lets its children (which get the terminal's SIGINT themselves) end, puts back what
//! it was replacing, and exits 130.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT, SIGTERM, SIGHUP and SIGQUIT set a flag instead of ending the process.
pub struct Guard {
    previous: [libc::sighandler_t; 4],
}

impl Guard {
    pub fn install() -> Guard {
        INTERRUPTED.store(false, Ordering::SeqCst);
        let handler = note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let previous = unsafe {
            [
                libc::signal(libc::SIGINT, handler),
                libc::signal(libc::SIGTERM, handler),
                libc::signal(libc::SIGHUP, handler),
                libc::signal(libc::SIGQUIT, handler),
            ]
        };
        Guard { previous }
    }

    pub fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: restores the handlers that were there before.
        unsafe {
            libc::signal(libc::SIGINT, self.previous[0]);
            libc::signal(libc::SIGTERM, self.previous[1]);
            libc::signal(libc::SIGHUP, self.previous[2]);
            libc::signal(libc::SIGQUIT, self.previous[3]);
        }
    }
}
