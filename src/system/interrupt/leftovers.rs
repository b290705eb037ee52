//! What a `kill -9` of ftpy leaves running.
//!
//! PR_SET_PDEATHSIG reaches only the child ftpy started (make, pip). make passes SIGTERM on to
//! its recipes' shells and exits, but what those started (a compiler, the PGO test run, a sleep)
//! goes on under PID 1, in the group ftpy made for the build. So each such group is recorded in
//! `<home>/locks/<pgid>.pgid` while it runs, and every later ftpy run stops the groups whose
//! ftpy is gone before it does anything else ([`reap_leftover_groups`]).
//!
//! A record is trusted only as far as it can be checked. Its owner is alive while it holds the
//! record's flock (released by the kernel however ftpy ends, and visible across pid namespaces)
//! or while its pid runs with the recorded start time. A group is the recorded one when its
//! leader, if still there, has the recorded start time, and every member belongs to this user
//! and started no earlier than the leader. (The group id cannot be reused while any member
//! lives: the kernel keeps a pid allocated while it names a process group.)

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where records of running process groups go: `<home>/locks`, set once by [`record_groups_in`].
static RECORDS_DIR: OnceLock<PathBuf> = OnceLock::new();

const RECORD_SUFFIX: &str = ".pgid";
/// A record being written; one older than [`ABANDONED_AFTER`] whose lock is free was abandoned.
const RECORD_TEMP_PREFIX: &str = ".pgid-";
const ABANDONED_AFTER: Duration = Duration::from_secs(60);

/// How long a leftover group gets between SIGTERM and SIGKILL, and after SIGKILL to be gone.
const LEFTOVER_GRACE: Duration = Duration::from_secs(3);
const LEFTOVER_KILL_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct GroupRecord {
    /// The process group: the pid of the child ftpy started as its leader.
    pgid: i32,
    /// The leader's start time, in clock ticks after boot (`/proc/<pid>/stat` field 22).
    leader_start: u64,
    /// The ftpy process that started it, and when that one started.
    owner_pid: i32,
    owner_start: u64,
    /// `/proc/sys/kernel/random/boot_id` and the pid namespace: pids from another boot or
    /// namespace name other processes here.
    boot_id: String,
    pid_namespace: String,
    /// What runs in it, for the message: "build of 3.13.5t", "pip install".
    what: String,
}

/// Record from now on, under `dir`, the process groups this process starts (see
/// [`record_group`]). Called once, with the home's locks directory.
pub fn record_groups_in(dir: PathBuf) {
    let _ = RECORDS_DIR.set(dir);
}

/// A child's process group, recorded while it runs; dropping this removes the record.
pub struct RunningGroup {
    path: PathBuf,
    /// Holds the record's flock: the record's owner is alive.
    _lock: File,
}

impl Drop for RunningGroup {
    fn drop(&mut self) {
        // Removed before the lock goes with the file, so no other run sees it unowned.
        let _ = fs::remove_file(&self.path);
    }
}

/// Record the group `child` leads, if it leads one (see [`super::prepare_child`]) and records are kept.
/// Best effort: a record that cannot be written costs only the clean-up after a `kill -9`.
pub fn record_group(child: &Child, what: &str) -> Option<RunningGroup> {
    write_record(RECORDS_DIR.get()?, child, what).ok().flatten()
}

fn write_record(dir: &Path, child: &Child, what: &str) -> io::Result<Option<RunningGroup>> {
    let (Some(leader), Some(owner)) = (GroupLeader::of(child), ProcStat::read(std::process::id() as i32))
    else {
        return Ok(None);
    };
    let pgid = leader.pgid;
    let record = GroupRecord {
        pgid,
        leader_start: leader.start,
        owner_pid: std::process::id() as i32,
        owner_start: owner.start,
        boot_id: boot_id(),
        pid_namespace: pid_namespace(),
        what: what.to_string(),
    };
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix(RECORD_TEMP_PREFIX).tempfile_in(dir)?;
    temp.as_file().try_lock().map_err(io::Error::other)?;
    // Not synced: after a crash of the machine its boot id says it is void anyway.
    serde_json::to_writer(&mut temp, &record)?;
    let path = dir.join(format!("{pgid}{RECORD_SUFFIX}"));
    let file = temp.persist(&path).map_err(|e| e.error)?;
    Ok(Some(RunningGroup { path, _lock: file }))
}

/// Stop the process groups that ftpy runs killed with SIGKILL left running (see the notes
/// above), saying so in one line each; remove their records.
pub fn reap_leftover_groups(locks_dir: &Path, reporter: &crate::output::progress::Reporter) {
    reap_in(locks_dir, |line| reporter.warn(line));
}

fn reap_in(dir: &Path, mut report: impl FnMut(String)) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(RECORD_SUFFIX) {
            if let Some(line) = reap_record(&entry.path()) {
                report(line);
            }
        } else if name.starts_with(RECORD_TEMP_PREFIX) {
            remove_abandoned_temp(&entry.path());
        }
    }
}

/// Deal with one record; a line to show when something was done or could not be.
fn reap_record(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    // Held: its ftpy is alive. An error: leave it to a later run.
    file.try_lock().ok()?;
    // Removed (and maybe replaced) since we opened it: its owner finished.
    if !same_file(&file, path) {
        return None;
    }
    // Written by another user (root running with a home others can write to): not ours to
    // act on, nor to remove.
    if !owned_by_us(&file) {
        return None;
    }
    let record: Option<GroupRecord> = serde_json::from_reader(io::BufReader::new(&file)).ok();
    let Some(record) = record else {
        // Written complete under its lock, so unreadable means damaged: nothing to trust.
        let _ = fs::remove_file(path);
        return None;
    };
    if record.boot_id != boot_id() || record.pid_namespace != pid_namespace() {
        let _ = fs::remove_file(path);
        return None;
    }
    if ProcStat::read(record.owner_pid).is_some_and(|p| p.start == record.owner_start && !p.zombie) {
        // Its ftpy runs, and is about to remove the record.
        return None;
    }
    let line = match stop_group(record.pgid, record.leader_start) {
        Stopped::NotOurs | Stopped::Gone => None,
        Stopped::All(count) => Some(format!(
            "stopped {count} leftover {} of an interrupted ftpy run (pid {}, {})",
            if count == 1 { "process" } else { "processes" },
            record.owner_pid,
            record.what
        )),
        Stopped::Not { left } => {
            // Keep the record: a later run tries again.
            return Some(format!(
                "could not stop {left} leftover {} of an interrupted ftpy run (pid {}, {}); \
                 stop them with `kill -KILL -- -{}`",
                if left == 1 { "process" } else { "processes" },
                record.owner_pid,
                record.what,
                record.pgid
            ));
        }
    };
    let _ = fs::remove_file(path);
    line
}

#[derive(Debug, PartialEq, Eq)]
enum Stopped {
    /// Nothing of the group runs any more.
    Gone,
    /// The group id now names another group, or something in it is not ours to stop.
    NotOurs,
    /// That many processes were stopped.
    All(usize),
    /// That many were still there after SIGKILL (in uninterruptible sleep, say).
    Not { left: usize },
}

/// Stop what is left of the group a child of ours led, now that the child has ended: after a
/// signal, what ignores SIGTERM (and holds the build log's pipe) must not keep ftpy waiting.
pub(super) fn stop_rest_of_group(leader: GroupLeader) {
    stop_group(leader.pgid, leader.start);
}

/// A child of ours that leads its own process group, and when it started.
#[derive(Clone, Copy, Debug)]
pub(super) struct GroupLeader {
    pgid: i32,
    start: u64,
}

impl GroupLeader {
    /// `child` must not have been waited for yet: its pid, and the group it leads, are its own.
    pub(super) fn of(child: &Child) -> Option<GroupLeader> {
        let pid = child.id() as libc::pid_t;
        // SAFETY: getpgid(2) on our own child, not yet reaped.
        if unsafe { libc::getpgid(pid) } != pid {
            return None;
        }
        Some(GroupLeader { pgid: pid, start: ProcStat::read(pid)?.start })
    }
}

fn stop_group(pgid: i32, leader_start: u64) -> Stopped {
    // SAFETY: getpgrp(2) has no preconditions.
    if pgid <= 1 || pgid == unsafe { libc::getpgrp() } {
        return Stopped::NotOurs;
    }
    let check = || -> Result<usize, Stopped> {
        if ProcStat::read(pgid).is_some_and(|leader| leader.start != leader_start) {
            return Err(Stopped::NotOurs);
        }
        let members = group_members(pgid);
        // SAFETY: geteuid(2) has no preconditions.
        let uid = unsafe { libc::geteuid() };
        if members.iter().any(|m| m.uid != uid || m.stat.start < leader_start) {
            return Err(Stopped::NotOurs);
        }
        Ok(members.len())
    };
    let count = match check() {
        Ok(0) => return Stopped::Gone,
        Ok(count) => count,
        Err(not) => return not,
    };
    // SAFETY: kill(2) on a group just checked to be the recorded one (see above).
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
        libc::kill(-pgid, libc::SIGCONT);
    }
    if poll_until(LEFTOVER_GRACE, || group_members(pgid).is_empty()) {
        return Stopped::All(count);
    }
    if check().is_ok() {
        // SAFETY: as above, checked again.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    if poll_until(LEFTOVER_KILL_WAIT, || group_members(pgid).is_empty()) {
        return Stopped::All(count);
    }
    Stopped::Not { left: group_members(pgid).len() }
}

fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if done() {
            return true;
        }
        if started.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn remove_abandoned_temp(path: &Path) {
    let old = fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ABANDONED_AFTER));
    if !old {
        return;
    }
    if let Ok(file) = File::open(path)
        && file.try_lock().is_ok()
        && same_file(&file, path)
    {
        let _ = fs::remove_file(path);
    }
}

fn owned_by_us(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid(2) has no preconditions.
    file.metadata().is_ok_and(|m| m.uid() == unsafe { libc::geteuid() })
}

/// `path` still names the file `file` has open.
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The fields of `/proc/<pid>/stat` that matter here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProcStat {
    pgrp: i32,
    /// Clock ticks after boot.
    start: u64,
    zombie: bool,
}

impl ProcStat {
    fn read(pid: i32) -> Option<ProcStat> {
        ProcStat::parse(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so the fields
    /// are counted from its last `)`.
    fn parse(text: &str) -> Option<ProcStat> {
        let fields: Vec<&str> = text.get(text.rfind(')')? + 1..)?.split_whitespace().collect();
        // fields[0] is field 3 (state), so field n is fields[n - 3].
        Some(ProcStat {
            zombie: matches!(*fields.first()?, "Z" | "X"),
            pgrp: fields.get(5 - 3)?.parse().ok()?,
            start: fields.get(22 - 3)?.parse().ok()?,
        })
    }
}

struct Member {
    stat: ProcStat,
    uid: u32,
}

/// The live processes (zombies are past stopping) of process group `pgid`.
fn group_members(pgid: i32) -> Vec<Member> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = ProcStat::read(pid).filter(|s| s.pgrp == pgid && !s.zombie)?;
            Some(Member { stat, uid: entry.metadata().ok()?.uid() })
        })
        .collect()
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn pid_namespace() -> String {
    fs::read_link("/proc/self/ns/pid").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// A `sleep` leading a process group of its own; killed, group and all, when dropped.
    struct Sleeper(Child);

    impl Sleeper {
        fn start(command: &mut Command) -> Sleeper {
            Sleeper(command.arg("60").process_group(0).spawn().unwrap())
        }

        fn pgid(&self) -> i32 {
            self.0.id() as i32
        }

        fn running(&mut self) -> bool {
            self.0.try_wait().unwrap().is_none()
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            if self.running() {
                // SAFETY: our child, not yet reaped: the group id is still its own.
                unsafe { libc::kill(-self.pgid(), libc::SIGKILL) };
                let _ = self.0.wait();
            }
        }
    }

    fn sleep() -> Sleeper {
        Sleeper::start(&mut Command::new("sleep"))
    }

    /// A record of `sleeper`'s group as a run that has since died would have left it.
    fn record_of_dead_run(sleeper: &Sleeper) -> GroupRecord {
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        GroupRecord {
            pgid: sleeper.pgid(),
            leader_start: ProcStat::read(sleeper.pgid()).unwrap().start,
            owner_pid: gone.id() as i32,
            owner_start: 0,
            boot_id: boot_id(),
            pid_namespace: pid_namespace(),
            what: "build of 3.13.5t".into(),
        }
    }

    fn write_unowned(dir: &Path, record: &GroupRecord) -> PathBuf {
        let path = dir.join(format!("{}{RECORD_SUFFIX}", record.pgid));
        fs::write(&path, serde_json::to_vec(record).unwrap()).unwrap();
        path
    }

    fn reap(dir: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        reap_in(dir, |line| lines.push(line));
        lines
    }

    #[test]
    fn the_group_of_a_dead_run_is_stopped_and_its_record_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = sleep();
        let record = record_of_dead_run(&sleeper);
        let path = write_unowned(dir.path(), &record);
        let lines = reap(dir.path());
        assert_eq!(
            lines,
            [format!(
                "stopped 1 leftover process of an interrupted ftpy run (pid {}, build of 3.13.5t)",
                record.owner_pid
            )]
        );
        assert!(!sleeper.running());
        assert!(!path.exists());
    }

    #[test]
    fn a_group_id_now_led_by_another_process_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = sleep();
        // As if the recorded leader had ended and its pid now led a newer group.
        let record = GroupRecord { leader_start: 1, ..record_of_dead_run(&sleeper) };
        let path = write_unowned(dir.path(), &record);
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running(), "an unrelated group was killed");
        assert!(!path.exists(), "the stale record stays");
    }

    /// A group whose leader (a shell) has ended, leaving a `sleep` it started: the shape a
    /// `kill -9` of ftpy leaves. (shell's start time, the sleep's pid)
    fn orphaned_member() -> (OrphanGuard, u64) {
        let mut shell = Command::new("sh")
            .args(["-c", "sleep 60 >/dev/null & echo $!"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = shell.id() as i32;
        let leader_start = ProcStat::read(pgid).unwrap().start;
        let mut out = String::new();
        io::Read::read_to_string(shell.stdout.as_mut().unwrap(), &mut out).unwrap();
        shell.wait().unwrap();
        (OrphanGuard { pid: out.trim().parse().unwrap(), pgid }, leader_start)
    }

    struct OrphanGuard {
        pid: i32,
        pgid: i32,
    }

    impl OrphanGuard {
        fn running(&self) -> bool {
            ProcStat::read(self.pid).is_some_and(|s| s.pgrp == self.pgid && !s.zombie)
        }
    }

    impl Drop for OrphanGuard {
        fn drop(&mut self) {
            if self.running() {
                // SAFETY: the group still has this member, so its id names it and no other.
                unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
            }
        }
    }

    fn record_of_orphan(orphan: &OrphanGuard, leader_start: u64) -> GroupRecord {
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        GroupRecord {
            pgid: orphan.pgid,
            leader_start,
            owner_pid: gone.id() as i32,
            owner_start: 0,
            boot_id: boot_id(),
            pid_namespace: pid_namespace(),
            what: "build of 3.13.5t".into(),
        }
    }

    #[test]
    fn what_a_dead_leader_left_in_its_group_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let (orphan, leader_start) = orphaned_member();
        assert!(orphan.running());
        let path = write_unowned(dir.path(), &record_of_orphan(&orphan, leader_start));
        assert_eq!(reap(dir.path()).len(), 1);
        assert!(poll_until(Duration::from_secs(10), || !orphan.running()), "the orphan still runs");
        assert!(!path.exists());
    }

    #[test]
    fn a_group_with_a_member_older_than_its_recorded_leader_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (orphan, _) = orphaned_member();
        // A record whose leader started after this member: not the group it recorded.
        let member_start = ProcStat::read(orphan.pid).unwrap().start;
        let path = write_unowned(dir.path(), &record_of_orphan(&orphan, member_start + 1));
        assert!(reap(dir.path()).is_empty());
        assert!(orphan.running(), "an unrelated group was killed");
        assert!(!path.exists());
    }

    #[test]
    fn a_group_of_another_user_is_left_alone() {
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Only root can start one, and only root could kill one.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = Sleeper::start(Command::new("sleep").uid(65534).gid(65534));
        let record = record_of_dead_run(&sleeper);
        let path = write_unowned(dir.path(), &record);
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running(), "another user's group was killed");
        assert!(!path.exists());
    }

    #[test]
    fn a_record_written_by_another_user_is_ignored() {
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Only root can make a file another user owns, and only root could be misled.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = sleep();
        let path = write_unowned(dir.path(), &record_of_dead_run(&sleeper));
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running(), "a record planted by another user killed a group");
        assert!(path.exists());
    }

    #[test]
    fn a_record_of_a_live_run_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = sleep();
        // Its lock held: this process is the owner.
        let running = write_record(dir.path(), &sleeper.0, "pip install").unwrap().unwrap();
        let path = dir.path().join(format!("{}{RECORD_SUFFIX}", sleeper.pgid()));
        assert!(path.exists());
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running());
        assert!(path.exists());
        // Its lock free, but the owner (this process, same start time) still runs.
        let record: GroupRecord = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(record.owner_pid, std::process::id() as i32);
        drop(running);
        assert!(!path.exists(), "the record goes with the run");
        let path = write_unowned(dir.path(), &record);
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running());
        assert!(path.exists());
        // Its owner's pid unknown here (a run in another pid namespace), but its lock held.
        let foreign = GroupRecord { owner_start: 0, ..record_of_dead_run(&sleeper) };
        let path = write_unowned(dir.path(), &foreign);
        let held = File::open(&path).unwrap();
        held.try_lock().unwrap();
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running(), "a group whose ftpy holds its record was killed");
        assert!(path.exists());
        drop(held);
        assert_eq!(reap(dir.path()).len(), 1, "once unlocked, the record is acted on");
        assert!(!sleeper.running());
    }

    #[test]
    fn a_record_whose_group_has_ended_is_just_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = sleep();
        let record = record_of_dead_run(&sleeper);
        // SAFETY: our child, not yet reaped.
        unsafe { libc::kill(sleeper.pgid(), libc::SIGKILL) };
        sleeper.0.wait().unwrap();
        let path = write_unowned(dir.path(), &record);
        assert!(reap(dir.path()).is_empty());
        assert!(!path.exists());
    }

    #[test]
    fn records_from_another_boot_or_damaged_are_removed_and_kill_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = sleep();
        let other_boot = GroupRecord { boot_id: "another boot".into(), ..record_of_dead_run(&sleeper) };
        let path = write_unowned(dir.path(), &other_boot);
        let damaged = dir.path().join(format!("1{RECORD_SUFFIX}"));
        fs::write(&damaged, b"{\"pgid\": 1, ").unwrap();
        assert!(reap(dir.path()).is_empty());
        assert!(sleeper.running());
        assert!(!path.exists());
        assert!(!damaged.exists());
    }

    #[test]
    fn only_a_process_group_leader_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let recorded = write_record(dir.path(), &child, "check");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(recorded.unwrap().is_none());
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing left behind");
    }

    #[test]
    fn proc_stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (a) b (c) S) Z 1 4240 4240 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 \
                    2000000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(ProcStat::parse(line), Some(ProcStat { pgrp: 4240, start: 987654, zombie: true }));
        assert_eq!(ProcStat::parse("4242 (sleep"), None);
        let own = ProcStat::read(std::process::id() as i32).unwrap();
        // SAFETY: getpgrp(2) has no preconditions.
        assert_eq!(own.pgrp, unsafe { libc::getpgrp() });
        assert!(!own.zombie);
    }
}
