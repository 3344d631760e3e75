//! What the kernel test files share: a network namespace of the test's own, removed when
//! dropped, and a shell in it.

use std::process::Command;

/// A network namespace made for one test (`ip netns add`) and removed when dropped.
pub struct Netns(pub String);

impl Netns {
    /// A new namespace, named after the test file's `prefix`, the process and `tag`.
    pub fn new(prefix: &str, tag: &str) -> Netns {
        let name = format!("{prefix}-{}-{tag}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(ok.success(), "ip netns add {name}");
        Netns(name)
    }

    /// Runs `script` with sh inside the namespace; its standard output. Fails the test when
    /// the script fails.
    pub fn sh(&self, script: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
