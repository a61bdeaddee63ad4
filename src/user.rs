//! Users and groups as IMAGE defines them: `--user USER[:GROUP]` resolved against IMAGE's
//! `/etc/passwd` and `/etc/group`, and the user's home directory for `HOME`.
//!
//! The files are IMAGE's, so they are input from whoever made IMAGE: each is read only
//! when an answer needs it, streamed a line at a time ([`Lines`]), and left at the first
//! match.

use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// A file of IMAGE read a line at a time, 4 KiB per `read`, and never past the size it
/// was opened with (see `plan::open_in_image`, which checks the file first).
pub struct Lines {
    /// None: all there is is in `buf` (the tests' text).
    fd: Option<OwnedFd>,
    /// Read but not yet returned: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// How many bytes may still be read.
    left: u64,
}

impl Lines {
    /// Read `fd` from where it is, at most `max` bytes.
    pub fn new(fd: OwnedFd, max: u64) -> Lines {
        Lines {
            fd: Some(fd),
            buf: Vec::new(),
            pos: 0,
            left: max,
        }
    }

    /// Lines of `text`, for the tests.
    #[cfg(test)]
    pub fn of(text: &[u8]) -> Lines {
        Lines {
            fd: None,
            buf: text.to_vec(),
            pos: 0,
            left: 0,
        }
    }

    /// The next line into `line` (replacing what it held), with its `\n` when it has one;
    /// false at the end.
    pub fn next(&mut self, line: &mut Vec<u8>) -> std::result::Result<bool, Errno> {
        line.clear();
        loop {
            let rest = &self.buf[self.pos..];
            if let Some(i) = rest.iter().position(|&c| c == b'\n') {
                line.extend_from_slice(&rest[..=i]);
                self.pos += i + 1;
                return Ok(true);
            }
            line.extend_from_slice(rest);
            if !self.fill()? {
                return Ok(!line.is_empty());
            }
        }
    }

    /// Replace the buffer with the next chunk of the file; false at its end.
    fn fill(&mut self) -> std::result::Result<bool, Errno> {
        self.buf.clear();
        self.pos = 0;
        let Some(fd) = &self.fd else {
            return Ok(false);
        };
        self.buf.resize(self.left.min(4096) as usize, 0);
        let n = loop {
            match rustix::io::read(fd, &mut self.buf) {
                Err(Errno::INTR) => {}
                r => break r?,
            }
        };
        self.buf.truncate(n);
        self.left -= n as u64;
        Ok(n > 0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One `/etc/passwd` entry.
struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// The first line of `file` whose `:`-separated fields (at least `min` of them) `pick`
/// turns into a value. A line that is not UTF-8 is skipped.
fn find<T>(
    file: Option<Lines>,
    which: &str,
    min: usize,
    mut pick: impl FnMut(&[&str]) -> Option<T>,
) -> Result<Option<T>> {
    let mut found = None;
    scan(file, which, min, &mut |f| {
        found = pick(f);
        found.is_some()
    })?;
    Ok(found)
}

/// The first passwd entry that `want` takes, one copy for every kind of lookup.
#[inline(never)]
fn find_passwd(file: Option<Lines>, want: &dyn Fn(&Passwd) -> bool) -> Result<Option<Passwd>> {
    find(file, "/etc/passwd", 7, |f| {
        passwd_entry(f).filter(|e| want(e))
    })
}

/// [`find`]'s loop, one copy for every kind of line: up to the first line `pick` takes.
#[inline(never)]
fn scan(
    file: Option<Lines>,
    which: &str,
    min: usize,
    pick: &mut dyn FnMut(&[&str]) -> bool,
) -> Result<()> {
    let Some(mut file) = file else {
        return Ok(());
    };
    let mut line = Vec::new();
    loop {
        let more = file.next(&mut line).map_err(|e| {
            Error::msg(format_args!(
                "cannot read IMAGE's {which}: {}",
                crate::error::os_error(e)
            ))
        })?;
        if !more {
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            continue;
        };
        let mut fields: Vec<&str> = Vec::new();
        for f in text.trim_end_matches('\n').split(':') {
            fields.push(f);
        }
        if fields.len() >= min && pick(&fields) {
            return Ok(());
        }
    }
}

fn passwd_entry(f: &[&str]) -> Option<Passwd> {
    Some(Passwd {
        name: f[0].to_string(),
        uid: parse_u32(f[2])?,
        gid: parse_u32(f[3])?,
        home: f[5].to_string(),
    })
}

fn default_home(uid: u32) -> String {
    if uid == 0 { "/root".into() } else { "/".into() }
}

/// A uid or gid as a number: any u32 but `u32::MAX`, which the kernel reads as "no change"
/// (-1) and never is an id.
fn id(s: &str) -> Option<u32> {
    parse_u32(s).filter(|&v| v != u32::MAX)
}

/// `s` as a u32, as `str::parse` reads one (an optional `+`, decimal digits), through the
/// u64 reader every other number shares.
pub fn parse_u32(s: &str) -> Option<u32> {
    u32::try_from(s.parse::<u64>().ok()?).ok()
}

/// Resolve `spec` (`USER[:GROUP]`, or none for root) against IMAGE's files. `need_home`:
/// whether HOME must come from passwd (not when `-e HOME` sets it). `passwd` and `group`
/// open the files (None when IMAGE has none); each is called only when needed.
pub fn resolve(
    spec: Option<&str>,
    need_home: bool,
    passwd: impl FnOnce() -> Result<Option<Lines>>,
    group: impl FnOnce() -> Result<Option<Lines>>,
) -> Result<User> {
    let Some(spec) = spec else {
        let home = if need_home {
            find_passwd(passwd()?, &|e| e.uid == 0)?
                .map(|e| e.home)
                .filter(|h| !h.is_empty())
        } else {
            None
        };
        return Ok(User {
            uid: 0,
            gid: 0,
            home: home.unwrap_or_else(|| default_home(0)),
        });
    };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let bad =
        |why: std::fmt::Arguments<'_>| Error::msg(format_args!("invalid --user '{spec}': {why}"));
    let numeric_uid = u.bytes().all(|c| c.is_ascii_digit());
    let (uid, entry) = if numeric_uid {
        let uid = id(u).ok_or_else(|| bad(format_args!("'{u}' is not a valid uid")))?;
        // The entry gives the primary group and the home: read passwd only for those.
        let entry = if need_home || g.is_none() {
            find_passwd(passwd()?, &|e| e.uid == uid)?
        } else {
            None
        };
        (uid, entry)
    } else {
        let e = find_passwd(passwd()?, &|e| e.name == u)?
            .ok_or_else(|| bad(format_args!("no user '{u}' in the image's /etc/passwd")))?;
        if e.uid == u32::MAX {
            return Err(bad(format_args!(
                "user '{u}' has uid 4294967295, which is not an id"
            )));
        }
        (e.uid, Some(e))
    };
    let gid = match g {
        None => entry.as_ref().map_or(uid, |e| e.gid),
        Some(g) if g.bytes().all(|c| c.is_ascii_digit()) => {
            id(g).ok_or_else(|| bad(format_args!("'{g}' is not a valid gid")))?
        }
        Some(g) => find(group()?, "/etc/group", 3, |f| {
            (f[0] == g).then(|| id(f[2])).flatten()
        })?
        .ok_or_else(|| bad(format_args!("no group '{g}' in the image's /etc/group")))?,
    };
    let home = entry
        .map(|e| e.home)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| default_home(uid));
    Ok(User { uid, gid, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100:U:/home/user:/bin/sh\nnohome:x:1001:1001::::\n";
    const GROUP: &str = "root:x:0:\nusers:x:100:\nstaff:x:50:user\n";

    #[test]
    fn resolves() {
        let r = |s| {
            resolve(
                s,
                true,
                || Ok(Some(Lines::of(PASSWD.as_bytes()))),
                || Ok(Some(Lines::of(GROUP.as_bytes()))),
            )
        };
        assert_eq!(
            r(None).unwrap(),
            User {
                uid: 0,
                gid: 0,
                home: "/root".into()
            }
        );
        assert_eq!(
            r(Some("user")).unwrap(),
            User {
                uid: 1000,
                gid: 100,
                home: "/home/user".into()
            }
        );
        assert_eq!(r(Some("1000")).unwrap().gid, 100);
        assert_eq!(r(Some("1000:staff")).unwrap().gid, 50);
        assert_eq!(r(Some("user:7")).unwrap().gid, 7);
        assert_eq!(
            r(Some("4242")).unwrap(),
            User {
                uid: 4242,
                gid: 4242,
                home: "/".into()
            }
        );
        assert_eq!(r(Some("1001")).unwrap().home, "/");
        assert_eq!(r(Some("0")).unwrap().home, "/root");
        assert!(r(Some("ghost")).unwrap_err().msg.contains("ghost"));
        assert!(r(Some("user:ghosts")).unwrap_err().msg.contains("ghosts"));
        assert!(r(Some("4294967295")).unwrap_err().msg.contains("uid"));
        assert!(r(Some("0:4294967295")).unwrap_err().msg.contains("gid"));
        // No passwd at all: root's home is /root.
        let none = || Ok(None);
        assert_eq!(resolve(None, true, none, none).unwrap().home, "/root");
    }

    /// Each file is opened only when an answer needs it.
    #[test]
    fn reads_only_what_is_needed() {
        let refuse = || -> Result<Option<Lines>> { Err(Error::new("opened")) };
        let passwd = || Ok(Some(Lines::of(PASSWD.as_bytes())));
        // HOME set by -e: root needs neither file; a numeric user:group neither.
        assert_eq!(resolve(None, false, refuse, refuse).unwrap().uid, 0);
        let u = resolve(Some("7:8"), false, refuse, refuse).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (7, 8, "/"));
        // A numeric group never opens /etc/group.
        assert_eq!(
            resolve(Some("user:9"), true, passwd, refuse).unwrap().gid,
            9
        );
        // A failure to open is the caller's error, passed on.
        assert!(resolve(None, true, refuse, refuse).is_err());
    }

    /// Lines across the 4 KiB reads, the last one without its newline, and nothing past
    /// the size given.
    #[test]
    fn lines_of_a_file() {
        use rustix::fs::{MemfdFlags, SeekFrom};
        let text: Vec<u8> = (0..700u32)
            .flat_map(|i| format!("{}\n", "x".repeat(i as usize % 37)).into_bytes())
            .chain(*b"last")
            .collect();
        let lines = |max: u64| {
            let fd = rustix::fs::memfd_create("lines", MemfdFlags::CLOEXEC).unwrap();
            rustix::io::write(&fd, &text).unwrap();
            rustix::fs::seek(&fd, SeekFrom::Start(0)).unwrap();
            let (mut file, mut line, mut all) = (Lines::new(fd, max), Vec::new(), Vec::new());
            while file.next(&mut line).unwrap() {
                all.push(line.clone());
            }
            all
        };
        let all = lines(1 << 20);
        assert_eq!(all.len(), 701);
        assert_eq!(all.concat(), text);
        assert_eq!(all[700], b"last");
        let cut = lines(5000);
        assert_eq!(cut.concat(), &text[..5000]);
    }

    /// The first match wins and the rest is never read: a line after it may be anything.
    #[test]
    fn stops_at_the_first_match() {
        let mut text = PASSWD.as_bytes().to_vec();
        text.extend_from_slice(&[0xff; 64]);
        let u = resolve(
            Some("user"),
            true,
            || Ok(Some(Lines::of(&text))),
            || Ok(None),
        );
        assert_eq!(u.unwrap().uid, 1000);
    }
}
