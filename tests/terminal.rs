//! Terminal tests: crab-can driven from a real terminal. Each test starts a private tmux
//! server (its own socket, killed by a Drop guard even when the test fails) whose one pane
//! runs a plain `bash --norc`, types commands into it with `send-keys`, and reads the pane
//! back with `capture-pane`, polling with a deadline instead of sleeping.
//!
//! Every typed command ends in `; echo M<n>:$?`: the marker line `M<n>:<status>` (which the
//! echoed command line never matches, as it shows `M<n>:$?`) says the command is over and
//! what it returned, and the lines between the command line and the marker are its output.
//! The same works inside the container's busybox shell.
mod common;

use common::{DEFAULT_PATH, Proc, bin, descendants, image, kill, read_proc, require_root};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long any one step may take before the test fails.
const STEP: u64 = 15;

/// A private tmux server with one 120x40 pane running `bash --norc`.
struct Tmux {
    sock: String,
    /// The server's socket file, which tmux leaves behind when it is killed.
    sock_path: PathBuf,
    dir: PathBuf,
    marker: Cell<u32>,
}

/// What a typed command printed and returned.
#[derive(Debug)]
struct Out {
    code: i32,
    lines: Vec<String>,
}

impl Out {
    /// Assert the status and the exact output lines.
    #[track_caller]
    fn expect(&self, code: i32, lines: &[&str], what: &str) {
        assert!(
            self.code == code && self.lines == lines,
            "{what}: want status {code} and {lines:?}, got {self:?}"
        );
    }
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// `crab-can` and the shared image, quoted for the pane's shell.
fn crab_q() -> String {
    q(&bin())
}

fn img_q() -> String {
    q(image())
}

impl Tmux {
    fn start(tag: &str) -> Tmux {
        require_root();
        let _ = image(); // build the image (and probe) before the clock of any step starts
        let id = format!("crab-term-{}-{tag}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Where tmux puts the socket; asked of tmux itself below once the server runs.
        let tmpdir = std::env::var_os("TMUX_TMPDIR").map_or(PathBuf::from("/tmp"), PathBuf::from);
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let guess = tmpdir.join(format!("tmux-{euid}")).join(&id);
        let mut t = Tmux {
            sock: id,
            sock_path: guess,
            dir,
            marker: Cell::new(0),
        };
        let shell = format!(
            "env -i PATH={DEFAULT_PATH} TERM=xterm-256color HOME=/root HISTFILE= PS1='H$ ' \
             bash --norc --noprofile"
        );
        let repo = common::repo();
        t.tmux(&[
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set-option",
            "-g",
            "history-limit",
            "300000",
            ";",
            "set-option",
            "-g",
            "status",
            "off",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "main",
            "-c",
            repo.to_str().unwrap(),
            &shell,
        ]);
        let path = t.tmux(&["display-message", "-p", "-t", "main", "#{socket_path}"]);
        t.sock_path = PathBuf::from(path.trim());
        t.wait_screen("the host prompt", STEP, |s| {
            s.lines().any(|l| l.trim_end() == "H$")
        });
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.sock)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux (is it installed?)");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type `text` and Enter.
    fn send(&self, text: &str) {
        // tmux would take a trailing `;` of an argument as a command separator.
        assert!(!text.ends_with(';') && !text.starts_with('-'), "{text:?}");
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
        self.key("Enter");
    }

    /// Press a key (`C-c`, `C-z`, `C-d`, `Enter`).
    fn key(&self, k: &str) {
        self.tmux(&["send-keys", "-t", "main", k]);
    }

    /// The whole pane, history included, wrapped lines joined.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "main", "-S", "-"])
    }

    /// Poll the pane until `ok` holds; fail with the pane's content after `secs`.
    fn wait_screen(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if t.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "timed out after {secs} s waiting for {what}; the pane holds:\n{}",
                    tail(&s)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Wait until some line of the pane is exactly `line` (trailing blanks ignored).
    fn wait_line(&self, line: &str, secs: u64) -> String {
        self.wait_screen(&format!("the line {line:?}"), secs, |s| {
            s.lines().any(|l| l.trim_end() == line)
        })
    }

    /// Type `cmd; echo M<n>:$?` and return n, without waiting.
    fn start_cmd(&self, cmd: &str) -> u32 {
        let n = self.marker.get() + 1;
        self.marker.set(n);
        let sep = if cmd.ends_with('&') { " " } else { "; " };
        self.send(&format!("{cmd}{sep}echo M{n}:$?"));
        n
    }

    /// Wait for the marker of `start_cmd`: the command's status and output.
    fn finish(&self, n: u32, secs: u64) -> Out {
        let tag = format!("M{n}:");
        let typed = format!("echo {tag}$?");
        let status = |l: &str| {
            // Not always at the left margin: an echoed ^Z or ^C may come first.
            let at = l.find(&tag)?;
            l[at + tag.len()..].trim_end().parse::<i32>().ok()
        };
        let s = self.wait_screen(&format!("the end marker {tag}<status>"), secs, |s| {
            s.lines().any(|l| status(l).is_some())
        });
        let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
        let end = lines.iter().position(|l| status(l).is_some()).unwrap();
        let begin = lines[..end]
            .iter()
            .rposition(|l| l.contains(&typed))
            .map_or(0, |b| b + 1);
        Out {
            code: status(lines[end]).unwrap(),
            lines: lines[begin..end].iter().map(|l| l.to_string()).collect(),
        }
    }

    /// Run one command in whatever shell the pane is in now.
    fn run(&self, cmd: &str) -> Out {
        let n = self.start_cmd(cmd);
        self.finish(n, STEP)
    }

    /// The host's terminal settings as `stty -g` prints them in the pane.
    fn stty_g(&self) -> String {
        let o = self.run("stty -g");
        assert_eq!((o.code, o.lines.len()), (0, 1), "stty -g: {o:?}");
        o.lines[0].clone()
    }

    /// Start `crab-can run [opts] IMAGE /bin/sh` and wait for the container's prompt
    /// (`/ # `). Returns the marker that ends with crab-can's exit status.
    fn start_shell(&self, opts: &str) -> u32 {
        let prompts = |s: &str| s.lines().filter(|l| l.starts_with("/ #")).count();
        let before = prompts(&self.screen());
        let n = self.start_cmd(&format!("{} run {opts} {} /bin/sh", crab_q(), img_q()));
        self.wait_screen("the container's prompt", STEP, |s| prompts(s) > before);
        n
    }

    fn pane_pid(&self) -> i32 {
        self.tmux(&["display-message", "-p", "-t", "main", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap()
    }

    fn pane_tty(&self) -> String {
        self.tmux(&["display-message", "-p", "-t", "main", "#{pane_tty}"])
            .trim()
            .to_string()
    }

    /// The processes below the pane's shell (the pane's shell excluded).
    fn procs(&self) -> Vec<Proc> {
        descendants(self.pane_pid())
    }

    /// Wait for a process below the pane named `comm` for which `ok` holds.
    fn wait_proc(&self, comm: &str, what: &str, ok: impl Fn(&Proc) -> bool) -> Proc {
        let t = Instant::now();
        loop {
            let ps = self.procs();
            if let Some(p) = ps.iter().find(|p| p.comm == comm && ok(p)) {
                return p.clone();
            }
            if t.elapsed() > Duration::from_secs(STEP) {
                panic!(
                    "no {comm} process that is {what}; processes: {ps:?}\npane:\n{}",
                    tail(&self.screen())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until no process below the pane named `comm` runs (a zombie its shell has not
    /// reaped yet counts as gone).
    fn wait_no_proc(&self, comm: &str) {
        let t = Instant::now();
        while self
            .procs()
            .iter()
            .any(|p| p.comm == comm && p.state != 'Z')
        {
            if t.elapsed() > Duration::from_secs(STEP) {
                panic!(
                    "{comm} still runs: {:?}\npane:\n{}",
                    self.procs(),
                    tail(&self.screen())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The crab-can that the pane's shell started.
    fn crab_can(&self) -> Proc {
        let pane = self.pane_pid();
        self.wait_proc("crab-can", "a child of the pane's shell", |p| {
            p.ppid == pane
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.sock)
            .arg("kill-server")
            .env_remove("TMUX")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.sock_path);
    }
}

/// The last 60 lines of a pane, for failure messages.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

// ---- with a pseudo-terminal -------------------------------------------------------------

/// Terminal: "When stdin and stdout are both terminals (and no `--no-tty`), the command gets
/// a new pseudo-terminal of the container's own as its controlling terminal; crab-can relays
/// it to the caller's terminal (raw mode, restored on exit, window size kept in step)."
#[test]
fn pty_shell_has_its_own_terminal_of_the_right_size() {
    let t = Tmux::start("basics");
    let sh = t.start_shell("");
    // "It runs as PID 1's child in a new PID namespace": the shell is PID 2.
    let o = t.run("echo $$");
    o.expect(0, &["2"], "the shell is PID 2");
    // Its own pseudo-terminal, from the container's own devpts.
    let o = t.run("tty");
    o.expect(0, &["/dev/pts/0"], "the container's own terminal");
    // ... which is its controlling terminal.
    let o = t.run("( : </dev/tty ) && echo ctty-ok");
    assert_eq!(o.lines, ["ctty-ok"], "{o:?}");
    // The network namespace the helper made, the command's too though the init forked it
    // late: only `lo` in sysfs and in /proc/net/dev.
    let o = t.run("ls /sys/class/net; awk 'NR > 2 { print $1 }' /proc/net/dev");
    o.expect(0, &["lo", "lo:"], "the container's network namespace");
    // "TERM if the caller had one".
    let o = t.run("echo \"TERM=$TERM\"");
    assert_eq!(o.lines, ["TERM=xterm-256color"], "{o:?}");
    // "window size kept in step": first the pane's size...
    let size = t.tmux(&[
        "display-message",
        "-p",
        "-t",
        "main",
        "#{pane_height} #{pane_width}",
    ]);
    assert_eq!(size.trim(), "40 120");
    let o = t.run("stty size");
    assert_eq!(o.lines, ["40 120"], "{o:?}");
    // ... then the new size after the window shrinks (SIGWINCH to crab-can, then to the job).
    t.tmux(&["resize-window", "-t", "main", "-x", "100", "-y", "30"]);
    let deadline = Instant::now() + Duration::from_secs(STEP);
    loop {
        let o = t.run("stty size");
        if o.lines == ["30 100"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stty size still says {:?} after the resize to 30x100",
            o.lines
        );
    }
    t.send("exit");
    assert_eq!(t.finish(sh, STEP).code, 0);
}

/// Terminal: "An interactive `/bin/sh` behaves as in a normal terminal: ... Ctrl-C interrupts
/// the foreground job and not the shell".
#[test]
fn pty_ctrl_c_interrupts_the_foreground_job_not_the_shell() {
    let t = Tmux::start("ctrlc");
    let sh = t.start_shell("");
    // No end marker on this line: an interactive shell drops the rest of a line on Ctrl-C.
    t.send("sleep 100");
    t.wait_proc("sleep", "running", |_| true);
    t.key("C-c");
    t.wait_no_proc("sleep");
    // The shell is alive, and saw its job die of SIGINT (128 + 2).
    let o = t.run("echo alive-$?");
    o.expect(0, &["alive-130"], "the shell should survive Ctrl-C");
    t.send("exit");
    assert_eq!(t.finish(sh, STEP).code, 0);
}

/// Terminal: "An interactive `/bin/sh` behaves as in a normal terminal: job control".
#[test]
fn pty_job_control_works() {
    let t = Tmux::start("jobs");
    let sh = t.start_shell("");
    assert_eq!(t.run("sleep 100 &").code, 0);
    let o = t.run("jobs");
    assert!(
        o.lines
            .iter()
            .any(|l| l.starts_with("[1]") && l.contains("Running") && l.contains("sleep 100")),
        "{o:?}"
    );
    // fg: the sleep becomes the terminal's foreground process group.
    let n = t.start_cmd("fg");
    t.wait_proc("sleep", "the foreground job of its terminal", |p| {
        p.pgrp == p.tpgid
    });
    // Ctrl-Z stops it and gives the terminal back to the shell (fg returns 128+SIGTSTP).
    t.key("C-z");
    let o = t.finish(n, STEP);
    assert_eq!(o.code, 148, "{o:?}");
    t.wait_proc("sleep", "stopped", |p| p.state == 'T');
    let o = t.run("jobs");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("Stopped") && l.contains("sleep 100")),
        "{o:?}"
    );
    // bg: it runs again, in the background.
    assert_eq!(t.run("bg").code, 0);
    t.wait_proc("sleep", "running again", |p| {
        p.state != 'T' && p.pgrp != p.tpgid
    });
    let o = t.run("jobs");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("Running") && l.contains("sleep 100")),
        "{o:?}"
    );
    // kill %1 ends it.
    assert_eq!(t.run("kill %1").code, 0);
    t.wait_no_proc("sleep");
    let o = t.run("jobs");
    assert!(
        !o.lines
            .iter()
            .any(|l| l.contains("Running") || l.contains("Stopped")),
        "{o:?}"
    );
    t.send("exit");
    assert_eq!(t.finish(sh, STEP).code, 0);
}

/// Terminal: "Ctrl-D/`exit N` leaves with N" and "(raw mode, restored on exit)";
/// Exit status: "the command's own".
#[test]
fn pty_exit_status_and_the_callers_terminal_mode_is_restored() {
    let t = Tmux::start("exit");
    let before = t.stty_g();
    let sh = t.start_shell("");
    // While the container runs, the caller's terminal is raw: no echo, no line editing, no
    // signal keys (they travel to the container's terminal as bytes), no output processing
    // (the container's terminal does that). opost/icrnl/iexten tell crab-can's raw mode
    // from what busybox's line editor would do to a terminal it was handed as is.
    let out = Command::new("stty")
        .args(["-F", &t.pane_tty(), "-a"])
        .output()
        .unwrap();
    let during = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = during
        .split(|c: char| c.is_whitespace() || c == ';')
        .collect();
    for w in ["-icanon", "-echo", "-isig", "-opost", "-icrnl", "-iexten"] {
        assert!(
            words.contains(&w),
            "the caller's terminal should be raw ({w}) while the container runs: {during}"
        );
    }
    t.send("exit 7");
    let o = t.finish(sh, STEP);
    assert_eq!(o.code, 7, "{o:?}");
    assert_eq!(
        t.stty_g(),
        before,
        "the caller's terminal mode after crab-can exited"
    );
}

/// Terminal: "raw mode, restored on exit" on every way out; Exit status: "128 + N | it was
/// killed by signal N", "127 | the command was not found"; Errors: "prints one line to
/// stderr"; Signals: "SIGTERM ... sent to `crab-can` are passed on to the command".
#[test]
fn pty_terminal_restored_after_signal_death_error_and_sigterm() {
    let t = Tmux::start("ways");
    let before = t.stty_g();

    let o = t.run(&format!(
        "{} run {} sh -c 'kill -KILL $$'",
        crab_q(),
        img_q()
    ));
    assert_eq!(o.code, 137, "{o:?}");
    assert_eq!(
        t.stty_g(),
        before,
        "after the command was killed by SIGKILL"
    );

    let o = t.run(&format!("{} run {} nosuchcmd", crab_q(), img_q()));
    assert_eq!(o.code, 127, "{o:?}");
    // One line, starting at the left margin (written after the terminal left raw mode).
    assert_eq!(o.lines.len(), 1, "{o:?}");
    assert!(
        o.lines[0].starts_with("crab-can: ") && o.lines[0].contains("nosuchcmd"),
        "{o:?}"
    );
    assert_eq!(t.stty_g(), before, "after a command that was not found");

    let n = t.start_cmd(&format!("{} run {} sleep 100", crab_q(), img_q()));
    t.wait_proc("sleep", "running", |_| true);
    let cc = t.crab_can();
    // cc.pid is the crab-can this test started.
    assert!(kill(cc.pid, libc::SIGTERM));
    let o = t.finish(n, STEP);
    assert_eq!(o.code, 143, "{o:?}");
    assert_eq!(t.stty_g(), before, "after SIGTERM to crab-can");
}

/// Terminal: "crab-can relays it to the caller's terminal": a large burst arrives complete,
/// also the part written just before the command exits.
#[test]
fn pty_large_output_arrives_complete() {
    let t = Tmux::start("burst");
    let sh = t.start_shell("");
    let o = t.run("seq 1 200000 | tail -1");
    assert_eq!(o.lines, ["200000"], "{o:?}");
    let o = t.run("yes | head -n 100000 | wc -l");
    assert_eq!(
        o.lines.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        ["100000"],
        "{o:?}"
    );
    // Through the relay itself, every line.
    let o = t.run("seq 1 20000");
    assert_eq!(o.code, 0);
    let want: Vec<String> = (1..=20000).map(|i| i.to_string()).collect();
    if o.lines != want {
        let first_bad = o.lines.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "seq 1 20000 through the terminal: {} lines, first difference at {first_bad:?}",
            o.lines.len()
        );
    }
    t.send("exit");
    assert_eq!(t.finish(sh, STEP).code, 0);

    // Non-interactive, under script(1) (which gives crab-can a pty on both sides): nothing
    // is lost when the command exits right after writing. Three times, as a race would be.
    for round in 0..3 {
        let ts = t.dir.join(format!("typescript{round}"));
        let o = t.run(&format!(
            "script -q -e -c \"{} run {} sh -c 'seq 1 100000; exit 5'\" {} >/dev/null",
            crab_q(),
            img_q(),
            q(&ts)
        ));
        assert_eq!(
            o.code, 5,
            "script should pass on the command's status: {o:?}"
        );
        let text = std::fs::read_to_string(&ts).unwrap();
        let got: Vec<&str> = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| {
                !l.is_empty() && !l.starts_with("Script started") && !l.starts_with("Script done")
            })
            .collect();
        let want: Vec<String> = (1..=100000).map(|i| i.to_string()).collect();
        if got != want {
            panic!(
                "round {round}: the typescript has {} lines, last {:?}, first difference at {:?}",
                got.len(),
                got.last(),
                got.iter().zip(&want).position(|(a, b)| a != b)
            );
        }
    }
}

/// Terminal: "Ctrl-D/`exit N` leaves with N": EOF typed on the caller's terminal reaches the
/// command as the terminal's EOF.
#[test]
fn pty_ctrl_d_ends_cat_and_the_shell() {
    let t = Tmux::start("eof");
    let n = t.start_cmd(&format!("{} run {} cat", crab_q(), img_q()));
    t.wait_proc("cat", "running", |_| true);
    t.send("ping-pong");
    // The terminal's echo and cat's copy.
    t.wait_screen("ping-pong twice", STEP, |s| {
        s.lines().filter(|l| l.trim_end() == "ping-pong").count() >= 2
    });
    t.key("C-d");
    let o = t.finish(n, STEP);
    assert_eq!(o.code, 0, "{o:?}");

    let sh = t.start_shell("");
    t.key("C-d");
    let o = t.finish(sh, STEP);
    assert_eq!(
        o.code, 0,
        "Ctrl-D at the prompt should end the shell with 0: {o:?}"
    );
}

/// Terminal: the relay (no contract line allows it to burn a CPU): when the command closes
/// its terminal but keeps running, crab-can must wait quietly, not spin on the hung-up master.
#[test]
fn pty_relay_does_not_spin_when_the_command_closes_its_terminal() {
    let t = Tmux::start("spin");
    let n = t.start_cmd(&format!(
        "{} run {} sh -c 'echo closing; exec </dev/null >/dev/null 2>&1; sleep 3'",
        crab_q(),
        img_q()
    ));
    t.wait_line("closing", STEP);
    t.wait_proc("sleep", "running", |_| true);
    let cc = t.crab_can();
    std::thread::sleep(Duration::from_millis(1000)); // a measuring interval, not a wait
    let used = read_proc(cc.pid).map(|p| p.ticks.saturating_sub(cc.ticks));
    let o = t.finish(n, STEP);
    assert_eq!(o.code, 0, "{o:?}");
    // 1 s of wall time; a waiting relay uses next to nothing (ticks are 10 ms).
    let used = used.expect("crab-can ended too early");
    assert!(
        used < 20,
        "crab-can used {used} ticks of CPU in 1 s while the container idled with its terminal closed"
    );
}

// ---- without a pseudo-terminal ----------------------------------------------------------

/// Terminal: "Otherwise the command gets the caller's stdin, stdout and stderr as they are,
/// in a new session with no controlling terminal": stdout to a file or a pipe (stdin still
/// the terminal) means no pseudo-terminal, so no CR is added and nothing is lost.
#[test]
fn no_pty_when_stdout_is_not_a_terminal() {
    let t = Tmux::start("redir");
    let before = t.stty_g();
    let out = t.dir.join("out");
    let o = t.run(&format!(
        "{} run {} sh -c 'printf \"a\\nb\\n\"' > {}",
        crab_q(),
        img_q(),
        q(&out)
    ));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"a\nb\n",
        "the file should hold exactly the bytes written"
    );

    let out2 = t.dir.join("out2");
    let o = t.run(&format!(
        "{} run {} sh -c '( : </dev/tty ) 2>/dev/null && echo ctty || echo no-ctty; [ -t 0 ] && echo stdin-tty' > {}",
        crab_q(),
        img_q(),
        q(&out2)
    ));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(&out2).unwrap(),
        "no-ctty\nstdin-tty\n"
    );

    let o = t.run(&format!(
        "{} run {} seq 1 200000 | tail -1",
        crab_q(),
        img_q()
    ));
    o.expect(0, &["200000"], "through a pipe");
    assert_eq!(
        t.stty_g(),
        before,
        "crab-can must not touch the terminal it does not relay"
    );
}

/// Options: "`--no-tty` | never give the command a pseudo-terminal"; Terminal: "the command
/// gets the caller's stdin, stdout and stderr as they are, in a new session with no
/// controlling terminal".
#[test]
fn no_tty_option_passes_the_terminal_as_is_without_a_controlling_terminal() {
    let t = Tmux::start("notty");
    let before = t.stty_g();
    let o = t.run(&format!(
        "{} run --no-tty {} sh -c '[ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; \
         ( : </dev/tty ) 2>/dev/null && echo ctty || echo no-ctty'",
        crab_q(),
        img_q()
    ));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.lines, ["stdin-tty", "stdout-tty", "no-ctty"], "{o:?}");
    assert_eq!(
        t.stty_g(),
        before,
        "--no-tty must leave the caller's terminal mode alone"
    );
}

/// Terminal: "so it cannot push keystrokes into the caller's terminal" (TIOCSTI).
#[test]
fn tiocsti_cannot_reach_the_callers_terminal() {
    let t = Tmux::start("tiocsti");
    // Since Linux 6.2, dev.tty.legacy_tiocsti=0 refuses TIOCSTI without CAP_SYS_ADMIN with
    // EIO before the controlling-terminal check (EPERM).
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map_or(true, |s| s.trim() != "0");
    let want = if legacy {
        "tiocsti: EPERM"
    } else {
        "tiocsti: EIO"
    };
    let o = t.run(&format!(
        "{} run --no-tty {} /bin/probe tiocsti",
        crab_q(),
        img_q()
    ));
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.lines.first().is_some_and(|l| l.starts_with(want)),
        "want {want}: {o:?}"
    );
    // An injected byte would be read by the host shell in front of the next command.
    let o = t.run("echo clean-$((1+1))");
    o.expect(0, &["clean-2"], "the host shell got typed input");

    // With a pseudo-terminal, TIOCSTI only reaches the container's own terminal.
    let o = t.run(&format!("{} run {} /bin/probe tiocsti", crab_q(), img_q()));
    assert!(o.code == 0 || o.code == 1, "{o:?}");
    let o = t.run("echo clean-$((2+2))");
    o.expect(0, &["clean-4"], "the host shell got typed input");
}

/// The core issue, before pseudo-terminals (so `--no-tty`): "An interactive `/bin/sh`"
/// with stdin on a terminal is usable; Signals: "SIGINT ... sent to `crab-can` are passed
/// on to the command" (the terminal sends Ctrl-C's SIGINT to crab-can); Exit status: "the
/// command's own".
#[test]
fn no_tty_interactive_shell_is_usable() {
    let t = Tmux::start("core");
    let sh = t.start_shell("--no-tty");
    let o = t.run("echo R-$((6*7))");
    o.expect(0, &["R-42"], "a typed command");
    // No end marker on this line: an interactive shell drops the rest of a line on Ctrl-C.
    t.send("sleep 100");
    t.wait_proc("sleep", "running", |_| true);
    t.key("C-c");
    t.wait_no_proc("sleep");
    let o = t.run("echo alive-$((1+1))");
    o.expect(0, &["alive-2"], "the shell should survive Ctrl-C");
    assert!(
        t.procs().iter().any(|p| p.comm == "sh"),
        "the container's shell is gone"
    );
    t.send("exit 3");
    let o = t.finish(sh, STEP);
    assert_eq!(o.code, 3, "{o:?}");
}
