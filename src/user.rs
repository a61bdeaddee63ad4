//! Users and groups as IMAGE defines them: `--user USER[:GROUP]` resolved against IMAGE's
//! `/etc/passwd` and `/etc/group` (read with every symlink resolved inside IMAGE), and the
//! user's home directory for `HOME`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One `/etc/passwd` entry: name, uid, gid, home.
fn passwd_entries(passwd: &str) -> impl Iterator<Item = (&str, u32, u32, &str)> {
    passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some((f[0], f[2].parse().ok()?, f[3].parse().ok()?, f[5]))
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32)> {
    group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 {
            return None;
        }
        Some((f[0], f[2].parse().ok()?))
    })
}

fn default_home(uid: u32) -> String {
    if uid == 0 { "/root".into() } else { "/".into() }
}

/// Resolve `spec` (`USER[:GROUP]`, or none for root) against the image's passwd and group
/// files (their text; empty when the image has none).
pub fn resolve(spec: Option<&str>, passwd: &str, group: &str) -> Result<User> {
    let Some(spec) = spec else {
        let home = passwd_entries(passwd)
            .find(|e| e.1 == 0)
            .map(|e| e.3.to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| default_home(0));
        return Ok(User {
            uid: 0,
            gid: 0,
            home,
        });
    };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary, home) = if let Ok(uid) = u.parse::<u32>() {
        match passwd_entries(passwd).find(|e| e.1 == uid) {
            Some(e) => (uid, Some(e.2), e.3.to_string()),
            None => (uid, None, String::new()),
        }
    } else {
        match passwd_entries(passwd).find(|e| e.0 == u) {
            Some(e) => (e.1, Some(e.2), e.3.to_string()),
            None => {
                return Err(Error::new(format!(
                    "invalid --user '{spec}': no user '{u}' in the image's /etc/passwd"
                )));
            }
        }
    };
    let gid = match g {
        None => primary.unwrap_or(uid),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => match group_entries(group).find(|e| e.0 == g) {
                Some(e) => e.1,
                None => {
                    return Err(Error::new(format!(
                        "invalid --user '{spec}': no group '{g}' in the image's /etc/group"
                    )));
                }
            },
        },
    };
    let home = if home.is_empty() {
        default_home(uid)
    } else {
        home
    };
    Ok(User { uid, gid, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100:U:/home/user:/bin/sh\nnohome:x:1001:1001::::\n";
    const GROUP: &str = "root:x:0:\nusers:x:100:\nstaff:x:50:user\n";

    #[test]
    fn resolves() {
        let r = |s| resolve(s, PASSWD, GROUP);
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
        // No passwd at all: root's home is /root.
        assert_eq!(resolve(None, "", "").unwrap().home, "/root");
    }
}
