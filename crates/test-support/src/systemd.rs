//! A private systemd, to run a unit as an operator would: this machine's own systemd as the
//! init of new PID, mount, network, UTS, IPC and cgroup namespaces. Its `/etc`, `/usr/local`
//! and `/var` are overlays of the host's whose changes land in a temporary directory, so that
//! install steps (`useradd`, `install`, `cp deploy/x.service /etc/systemd/system/`,
//! `systemctl enable --now`) run as written, with real `systemctl` and `journalctl`, and the
//! units' sandboxing applied by systemd itself, without touching the host. Its network is a
//! loopback of its own. The rest of the file system is the host's, so the test's files and
//! the repository are where they are outside.
//!
//! Only root can boot it, on a Linux with overlayfs and cgroup v2 (alone or beside v1, as
//! here): [`Systemd::boot`] says why not otherwise, for the test to skip. Dropped, it powers
//! off (each unit stopped as systemd stops it), or is killed after 10 s.
//!
//! ```no_run
//! let machine = test_support::systemd::Systemd::boot().expect("systemd boots here");
//! let said = machine.sh("systemctl is-system-running");
//! assert_eq!(said.trim(), "running");
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs as the namespaces' first process (`$1` the temporary directory, `$2` the target it
/// boots into), doing what systemd-nspawn does to keep a container's systemd off its host:
/// - overlays over `/etc`, `/usr/local` and `/var`;
/// - every unit that booting or a service's default dependencies (`sysinit.target`,
///   `basic.target`) would pull in masked, the journal's alone kept: on this file system,
///   which is the host's, `systemd-tmpfiles-setup` would empty the host's `/tmp` (it did,
///   once), `systemd-timesyncd` set its clock, `systemd-sysctl` its kernel settings,
///   `systemd-modules-load` load modules, `systemd-remount-fs` remount its root, the timers
///   run apt;
/// - `/sys` and `/proc/sys` read-only, and no capability to load modules, set the clock or
///   reach raw devices;
/// - its own cgroup v2 hierarchy, rooted at the cgroup namespace's root, its own `/proc` and
///   `/run` (what the packages' tmpfiles.d make there at boot made in it), and loopback up.
const BOOT: &str = r#"set -eu
dir=$1
boot_into=$2
# What the host's own units would pull in, read before the overlays (so that what the tests
# enable is never among them, at a reboot too).
host_wants=$(
    for target in sysinit basic sockets timers paths local-fs remote-fs multi-user graphical getty network network-online; do
        for wants in /lib/systemd/system/$target.target.wants /etc/systemd/system/$target.target.wants; do
            [ -d "$wants" ] || continue
            for unit in "$wants"/*; do
                name=${unit##*/}
                case $name in
                    '*' | systemd-journald.service | systemd-journald.socket | systemd-journald-dev-log.socket) ;;
                    *) echo "$name" ;;
                esac
            done
        done
    done
)
for tree in etc usr/local var; do
    mkdir -p "$dir/upper/$tree" "$dir/work/$tree"
    mount -t overlay overlay -o "lowerdir=/$tree,upperdir=$dir/upper/$tree,workdir=$dir/work/$tree" "/$tree"
done
for name in $host_wants; do
    ln -sfn /dev/null "/etc/systemd/system/$name"
done
# And what the fstab generator has local-fs.target pull in: remounting the host's root.
for name in systemd-remount-fs.service systemd-fsck-root.service; do
    ln -sfn /dev/null "/etc/systemd/system/$name"
done
umount -R /sys/fs/cgroup
mount --bind /sys /sys
mount -o remount,bind,ro /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t proc proc /proc
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -t tmpfs tmpfs /run
# What booting makes in /run for the packages' services (/run/ejabberd): only that, from the
# masked systemd-tmpfiles-setup, which would also empty /tmp.
systemd-tmpfiles --create --prefix=/run >/dev/null 2>&1 || true
printf '[Unit]\nDescription=A private boot for tests: nothing starts until asked\n' > /etc/systemd/system/private-boot.target
ip link set lo up
export container=test-support
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-wake_alarm \
    /lib/systemd/systemd --unit="$boot_into"
"#;

/// A booted private systemd.
pub struct Systemd {
    dir: tempfile::TempDir,
    /// `unshare`, whose child is the namespaces' init.
    unshare: Child,
    /// systemd's process id, as the host sees it.
    init: u32,
    /// The cgroup it was started in, removed once it is gone.
    cgroup: PathBuf,
    /// Powered off (or killed) and waited for: nothing left to stop.
    down: bool,
}

impl Systemd {
    /// Boots it and waits until systemd says it is running.
    ///
    /// # Errors
    /// Why it cannot boot here, for the test to say it is skipped: not root, a program
    /// missing, no cgroup v2.
    ///
    /// # Panics
    /// Where it can boot but does not come up, with what it said.
    pub fn boot() -> Result<Self, String> {
        if !crate::is_root() {
            return Err("booting systemd in namespaces needs root".to_owned());
        }
        for program in [
            "systemd", "unshare", "nsenter", "setpriv", "ip", "curl", "openssl",
        ] {
            let found = ["/lib/systemd", "/usr/bin", "/usr/sbin", "/bin", "/sbin"]
                .iter()
                .any(|dir| Path::new(dir).join(program).exists());
            if !found {
                return Err(format!(
                    "{program} is not installed (scripts/ensure-unit-tools.sh)"
                ));
            }
        }
        let hierarchy = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(Path::new)
            .find(|root| root.join("cgroup.procs").exists() && !root.join("cpu").is_dir())
            .ok_or("no cgroup v2 hierarchy is mounted")?;
        let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
        Ok(Self::start(dir, hierarchy, "private-boot.target"))
    }

    /// Boots systemd into `target` over the overlays kept in `dir`, in a new cgroup under
    /// `hierarchy`, and waits until it says it is running.
    fn start(dir: tempfile::TempDir, hierarchy: &Path, target: &str) -> Self {
        let cgroup = hierarchy.join(format!(
            "test-support-systemd-{}",
            dir.path().file_name().unwrap_or_default().to_string_lossy()
        ));
        std::fs::create_dir(&cgroup)
            .unwrap_or_else(|err| panic!("cannot make the cgroup {}: {err}", cgroup.display()));
        std::fs::write(dir.path().join("boot.sh"), BOOT).expect("the boot script written");
        let log = std::fs::File::create(dir.path().join("boot.log")).expect("a boot log");
        // Moved into its own cgroup before the cgroup namespace is made, so that cgroup is the
        // namespace's root, and everything systemd makes goes under it.
        let unshare = Command::new("sh")
            .arg("-c")
            .arg(
                "echo $$ > \"$1/cgroup.procs\" && exec unshare --pid --fork --mount --uts --ipc \
                 --net --cgroup --propagation private sh \"$2/boot.sh\" \"$2\" \"$3\"",
            )
            .arg("sh")
            .arg(&cgroup)
            .arg(dir.path())
            .arg(target)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the boot log, twice"))
            .stderr(log)
            .spawn()
            .expect("unshare runs");
        let mut machine = Self {
            dir,
            unshare,
            init: 0,
            cgroup,
            down: false,
        };
        // From here on, a machine that can boot it and does not is a failure, not a skip.
        machine.init = machine
            .wait_for_init()
            .unwrap_or_else(|why| panic!("the private systemd did not boot: {why}"));
        if let Err(why) = machine.wait_until_running() {
            panic!("the private systemd did not come up: {why}");
        }
        machine
    }

    /// Powers it off, each unit stopped as systemd stops it, and boots it again over the same
    /// `/etc`, `/usr/local` and `/var`, this time into `multi-user.target`, as a machine
    /// restarts: what `systemctl enable` made wanted starts at boot (the host's units stay
    /// masked).
    ///
    /// # Panics
    /// If it does not come up again.
    #[must_use]
    pub fn reboot(mut self) -> Self {
        self.shut_down();
        let hierarchy = self
            .cgroup
            .parent()
            .expect("the cgroup is in a hierarchy")
            .to_owned();
        // Its overlays go on to the next boot; `self`, down, has nothing left to stop.
        let placeholder = tempfile::tempdir().expect("a temporary directory");
        let dir = std::mem::replace(&mut self.dir, placeholder);
        Self::start(dir, &hierarchy, "multi-user.target")
    }

    /// systemd's host process id: `unshare`'s child, once it has become systemd.
    fn wait_for_init(&mut self) -> Result<u32, String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.unshare.try_wait() {
                return Err(format!("it ended at once ({status}): {}", self.boot_log()));
            }
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.unshare.id()))
                    .unwrap_or_default();
            if let Some(child) = children.split_whitespace().next() {
                let command =
                    std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
                if command.trim() == "systemd" {
                    return child.parse().map_err(|_| "an odd process id".to_owned());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "systemd did not start within 10 s: {}",
            self.boot_log()
        ))
    }

    fn wait_until_running(&self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let state = self.run("systemctl is-system-running");
            let said = String::from_utf8_lossy(&state.stdout).trim().to_owned();
            let complaint = String::from_utf8_lossy(&state.stderr).trim().to_owned();
            if said == "running" {
                return Ok(());
            }
            if said == "degraded" || started.elapsed() > Duration::from_secs(30) {
                let failed = self.run("systemctl --failed --no-pager");
                return Err(format!(
                    "systemd is {said:?}, not running ({complaint}): {}{}",
                    String::from_utf8_lossy(&failed.stdout),
                    self.boot_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn boot_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("boot.log")).unwrap_or_default()
    }

    /// Runs `script` with `sh -e` inside (every namespace, as root, in the current
    /// directory), and returns what it did.
    ///
    /// # Panics
    /// If `nsenter` cannot be run.
    #[must_use]
    pub fn run(&self, script: &str) -> Output {
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Command::new("nsenter")
            .args(["--target", &self.init.to_string(), "--all"])
            // The directory as `--wd=DIR`: the option's argument is optional, so `--wd DIR`
            // would run DIR.
            .arg(format!("--wd={}", here.display()))
            .args(["sh", "-ec", script])
            .stdin(Stdio::null())
            .output()
            .expect("nsenter runs")
    }

    /// [`run`](Self::run), which must succeed: its stdout.
    ///
    /// # Panics
    /// If the script fails, with what it wrote.
    #[must_use]
    pub fn sh(&self, script: &str) -> String {
        let output = self.run(script);
        assert!(
            output.status.success(),
            "{script}\nfailed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// [`sh`](Self::sh) for what a script does, not what it says.
    ///
    /// # Panics
    /// If the script fails, with what it wrote.
    pub fn exec(&self, script: &str) {
        let _ = self.sh(script);
    }

    /// What `journalctl -u UNIT` shows, for a failure's message.
    #[must_use]
    pub fn journal(&self, unit: &str) -> String {
        let output = self.run(&format!("journalctl --no-pager -o cat -u {unit}"));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl Systemd {
    /// Powers it off, or kills it after 10 s, and removes its cgroups; once.
    fn shut_down(&mut self) {
        if self.down {
            return;
        }
        self.down = true;
        // A container's systemd ends at poweroff, having stopped every unit.
        let _ = self.run("systemctl --no-block poweroff");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if matches!(self.unshare.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The namespaces' init gone, the kernel kills everything left in them.
        let _ = Command::new("kill")
            .args(["-KILL", &self.init.to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        // Its cgroups, innermost first, once their processes are gone.
        let started = Instant::now();
        while self.cgroup.exists() && started.elapsed() < Duration::from_secs(5) {
            let _ = Command::new("find")
                .arg(&self.cgroup)
                .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
