//! The build log: every line of a build's output as it came (a last line without a newline
//! gets one), read a line at a time with a bound on what one line may hold in memory, and the
//! last lines kept, escaped, to show when a step fails.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use crate::output::terminal_text::escape_shortened;

/// How many of the last lines a failed step shows.
const TAIL_LINES: usize = 25;
/// The longest a line of the tail is shown.
const TAIL_LINE_CHARS: usize = 500;
/// The most of one output line held in memory (what the phase and missing-package checks
/// see); the rest of a longer line still reaches the log file. A long link line is tens of
/// kilobytes; a tool that writes megabytes without a newline is not held whole.
pub const MOST_LINE_BYTES: usize = 1 << 20;

pub struct BuildLog {
    file: File,
    path: PathBuf,
    tail: Vec<String>,
}

impl BuildLog {
    pub fn create(path: &Path) -> io::Result<BuildLog> {
        Ok(BuildLog { file: File::create(path)?, path: path.to_path_buf(), tail: Vec::new() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last lines, escaped and shortened for a terminal.
    pub fn tail(&self) -> &[String] {
        &self.tail
    }

    /// Writes a line of ftpy's own (a heading, the command run) to the log, and to the tail.
    pub fn line(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.file, "{line}")?;
        self.remember(line);
        Ok(())
    }

    /// Writes a line to the log only: not part of what the build printed.
    pub fn note(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.file, "{line}")
    }

    /// Copies the next line of `output` to the log as it is, and leaves in `line` its first
    /// [`MOST_LINE_BYTES`] without the newline. False at the end of the output.
    pub fn copy_line(&mut self, output: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
        line.clear();
        let mut read_any = false;
        loop {
            let available = match output.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let end = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..end.unwrap_or(available.len())];
            self.file.write_all(chunk)?;
            let room = MOST_LINE_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len() + usize::from(end.is_some());
            output.consume(used);
            if end.is_some() {
                break;
            }
        }
        if read_any {
            self.file.write_all(b"\n")?;
            self.remember(&String::from_utf8_lossy(line));
        }
        Ok(read_any)
    }

    fn remember(&mut self, line: &str) {
        if self.tail.len() == TAIL_LINES {
            self.tail.remove(0);
        }
        // The tail is shown in the terminal: build output can hold anything (escape sequences, a
        // megabyte-long line), so it is kept escaped and shortened; the log keeps it as it was.
        self.tail.push(escape_shortened(line, TAIL_LINE_CHARS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    /// Hands out at most 7 bytes a read, so that lines cross the reader's buffer.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_line_longer_than_the_bound_is_held_only_in_part_and_logged_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build.log");
        let mut log = BuildLog::create(&path).unwrap();
        let long = "x".repeat(MOST_LINE_BYTES * 3 + 5);
        let output = format!("first\n{long}\n\nlast without newline");
        let mut reader = BufReader::with_capacity(64 * 1024, output.as_bytes());
        let mut line = Vec::new();
        let mut seen = Vec::new();
        while log.copy_line(&mut reader, &mut line).unwrap() {
            assert!(line.len() <= MOST_LINE_BYTES);
            seen.push(line.len());
        }
        assert_eq!(seen, [5, MOST_LINE_BYTES, 0, 20]);
        drop(log);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{output}\n"));
    }

    #[test]
    fn lines_that_cross_reads_come_out_whole_and_the_tail_keeps_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = BuildLog::create(&dir.path().join("build.log")).unwrap();
        let output: String = (0..40).map(|i| format!("line number {i}\n")).collect();
        let mut reader = BufReader::with_capacity(16, Trickle(output.as_bytes()));
        let mut line = Vec::new();
        let mut count = 0;
        while log.copy_line(&mut reader, &mut line).unwrap() {
            assert_eq!(line, format!("line number {count}").as_bytes());
            count += 1;
        }
        assert_eq!(count, 40);
        assert_eq!(log.tail().len(), TAIL_LINES);
        assert_eq!(log.tail().last().unwrap(), "line number 39");
        assert!(!log.copy_line(&mut reader, &mut line).unwrap(), "the end stays the end");
    }
}
